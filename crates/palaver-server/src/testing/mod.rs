//! Throwaway servers for tests, each in a temporary directory on a free loopback port: a
//! PostgreSQL cluster ([`postgres`], re-exported here), a Redis server ([`redis`]), and headless
//! Chromium through ChromeDriver ([`chromium`]). Where the programs are missing, the tests that
//! need them skip with a message; under `CI=true` they fail.

pub mod chromium;
pub mod postgres;
pub mod redis;

pub use postgres::*;

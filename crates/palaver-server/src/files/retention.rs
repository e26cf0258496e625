//! Removing files: those past `--file-retention-days`, and those no message links (never sent
//! within a day of their upload, or their message deleted). Their records go first, then their
//! bytes if no other file has the same. Runs every hour while the server runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Files;
use crate::runtime::HubMsg;
use crate::store::ReadPool;

/// How long an upload may wait to be sent with a message.
pub const UNSENT_GRACE: Duration = Duration::from_secs(24 * 3600);

/// How often files are looked at.
const EVERY: Duration = Duration::from_secs(3600);

/// Removes stale files now; how many went.
pub fn sweep(
    files: &Files,
    reads: &ReadPool,
    now_ms: i64,
) -> Result<usize, crate::store::StoreError> {
    let sent_before = files
        .limits
        .retention
        .map(|r| now_ms - r.as_millis() as i64);
    let unlinked_before = now_ms - UNSENT_GRACE.as_millis() as i64;
    let mut removed = 0;
    loop {
        let stale = reads.read(|db| db.stale_files(sent_before, unlinked_before))?;
        if stale.is_empty() {
            return Ok(removed);
        }
        let ids: Vec<String> = stale.iter().map(|f| f.id.clone()).collect();
        let unused = reads.read(|db| db.remove_files(&ids))?;
        for digest in unused {
            files.blobs.delete(&digest)?;
        }
        removed += ids.len();
    }
}

/// Sweeps every hour until the hub is gone.
pub async fn run(files: Arc<Files>, reads: ReadPool, hub: mpsc::WeakSender<HubMsg>) {
    loop {
        tokio::time::sleep(EVERY).await;
        if hub.upgrade().is_none() {
            return;
        }
        let (files, reads) = (Arc::clone(&files), reads.clone());
        let now = palaver_proto::timestamp::now_millis();
        match tokio::task::spawn_blocking(move || sweep(&files, &reads, now)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(files = n, "removed old and unsent files"),
            other => tracing::warn!(?other, "could not remove old files"),
        }
    }
}

//! Pictures sent with messages, shown small in the conversation (the desktop client).
//!
//! A picture in view is fetched by its signed link on the tokio runtime, decoded and shrunk off
//! the UI thread, and kept as a texture by file id. Its row keeps the same height while it
//! loads, so the virtualised list does not jump. Only pictures up to [`PREVIEW_MAX_BYTES`] are
//! fetched; larger ones, and any that fail, stay a link.

use std::collections::HashMap;
use std::sync::mpsc;

use egui::{ColorImage, TextureHandle, TextureOptions};
use tokio::runtime::Handle;

/// The largest picture fetched for a preview.
pub const PREVIEW_MAX_BYTES: u64 = 10 * 1024 * 1024;

/// The box a preview is drawn in (points).
pub const PREVIEW_SIZE: egui::Vec2 = egui::vec2(240.0, 160.0);

/// A picture's preview, as far as it got.
pub enum Preview {
    Loading,
    Ready(TextureHandle),
    Failed,
}

/// The previews of this session, by file id.
pub struct Previews {
    shown: HashMap<String, Preview>,
    arrived_tx: mpsc::Sender<(String, Option<ColorImage>)>,
    arrived: mpsc::Receiver<(String, Option<ColorImage>)>,
}

impl Default for Previews {
    fn default() -> Self {
        let (arrived_tx, arrived) = mpsc::channel();
        Previews {
            shown: HashMap::new(),
            arrived_tx,
            arrived,
        }
    }
}

impl std::fmt::Debug for Previews {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Previews")
            .field("shown", &self.shown.len())
            .finish()
    }
}

impl Previews {
    pub fn get(&self, id: &str) -> Option<&Preview> {
        self.shown.get(id)
    }

    /// Starts fetching a picture (once): `base` and `url` as the message gave them.
    pub fn fetch(
        &mut self,
        runtime: &Handle,
        ctx: &egui::Context,
        id: &str,
        base: &str,
        url: &str,
    ) {
        if self.shown.contains_key(id) {
            return;
        }
        self.shown.insert(id.to_string(), Preview::Loading);
        let (tx, ctx, id) = (self.arrived_tx.clone(), ctx.clone(), id.to_string());
        let (base, url) = (base.to_string(), url.to_string());
        runtime.spawn(async move {
            let image = match palaver_client::files::get(&base, &url).await {
                Ok(bytes) => tokio::task::spawn_blocking(move || shrink(&bytes))
                    .await
                    .ok()
                    .flatten(),
                Err(_) => None,
            };
            let _ = tx.send((id, image));
            ctx.request_repaint();
        });
    }

    /// Makes textures of the pictures that arrived.
    pub fn poll(&mut self, ctx: &egui::Context) {
        while let Ok((id, image)) = self.arrived.try_recv() {
            let preview = match image {
                Some(image) => {
                    let name = format!("preview-{id}");
                    Preview::Ready(ctx.load_texture(name, image, TextureOptions::LINEAR))
                }
                None => Preview::Failed,
            };
            self.shown.insert(id, preview);
        }
    }
}

/// A picture decoded and shrunk to fit twice the preview's box (sharp on high-DPI screens).
/// Decoding is bounded (8192 pixels a side, 128 MiB), so a crafted file cannot exhaust memory.
pub fn shrink(bytes: &[u8]) -> Option<ColorImage> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(128 * 1024 * 1024);
    reader.limits(limits);
    let image = reader.decode().ok()?;
    let (w, h) = (PREVIEW_SIZE.x as u32 * 2, PREVIEW_SIZE.y as u32 * 2);
    let small = image.thumbnail(w, h).to_rgba8();
    let size = [small.width() as usize, small.height() as usize];
    Some(ColorImage::from_rgba_unmultiplied(size, small.as_raw()))
}

/// The size a texture is drawn at inside the preview's box, keeping its shape.
pub fn fitted(texture: egui::Vec2) -> egui::Vec2 {
    let scale = (PREVIEW_SIZE.x / texture.x)
        .min(PREVIEW_SIZE.y / texture.y)
        .min(1.0);
    texture * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_is_shrunk_to_the_box_keeping_its_shape_and_junk_is_refused() {
        let big = image::RgbaImage::from_pixel(2000, 1000, image::Rgba([200, 30, 30, 255]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgba8(big)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let small = shrink(&png).expect("a PNG decodes");
        assert_eq!(small.size, [480, 240]);
        assert_eq!(fitted(egui::vec2(480.0, 240.0)), egui::vec2(240.0, 120.0));
        assert!(shrink(b"<svg/>").is_none());
        // Too large to decode: refused, not allocated.
        let huge = image::RgbaImage::new(9000, 1);
        let mut png = Vec::new();
        image::DynamicImage::ImageRgba8(huge)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert!(shrink(&png).is_none());
    }
}

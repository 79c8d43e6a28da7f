//! Picture files (PNG, JPEG, BMP) as the model takes them: decoded with the
//! `image` crate and brought to the model's channel count as Pillow's
//! `convert` does.

use crate::dataset::ImageSet;
use crate::Error;
use std::path::Path;

/// One decoded image as the model takes it: `height x width x channels` u8.
pub fn decode(path: &Path, channels: usize) -> Result<ImageSet, Error> {
    let bad = |what: String| Error::Input {
        message: format!("{}: {what}", path.display()),
    };
    let reader = image::ImageReader::open(path)
        .map_err(|e| bad(format!("cannot open: {e}")))?
        .with_guessed_format()
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    let img = reader.decode().map_err(|e| {
        bad(format!(
            "not a PNG, JPEG or BMP image this build decodes: {e}"
        ))
    })?;
    let (width, height) = (img.width() as usize, img.height() as usize);
    let pixels = match channels {
        1 => luma_like_pillow(&img.to_rgb8().into_raw()),
        3 => img.to_rgb8().into_raw(),
        c => {
            return Err(bad(format!(
                "the model takes {c}-channel images; classify handles 1 (grey) and 3 (RGB)"
            )))
        }
    };
    Ok(ImageSet {
        pixels,
        count: 1,
        height,
        width,
        channels,
    })
}

/// RGB to grey as Pillow's `convert("L")` computes it (ITU-R 601-2 luma in
/// 16-bit fixed point, rounded): a grey image stays as it is.
fn luma_like_pillow(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| {
            let (r, g, b) = (p[0] as u32, p[1] as u32, p[2] as u32);
            ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8
        })
        .collect()
}

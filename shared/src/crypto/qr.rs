//! The recovery phrase as a QR code, for a second device's camera, and the code
//! read back from a camera frame.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG image of `text` as a QR code (medium error correction, quiet zone
/// included). Text too long for a QR code gives an SVG saying so.
pub fn qr_svg(text: &str) -> String {
    match QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
        Err(e) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"240\" height=\"40\"><text x=\"4\" y=\"24\">no QR code: {e}</text></svg>"
        ),
    }
}

/// The text of a QR code in a camera frame: `rgba` holds `width` × `height`
/// pixels, four bytes each, row by row (a canvas's `ImageData`). `None` when no
/// code in it reads, or when the buffer is not that size.
pub fn read_qr(width: usize, height: usize, rgba: &[u8]) -> Option<String> {
    if width == 0 || height == 0 || width.checked_mul(height)?.checked_mul(4)? != rgba.len() {
        return None;
    }
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        let p = &rgba[(y * width + x) * 4..][..3];
        // Luma (BT.601), in integers.
        ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000) as u8
    });
    image
        .detect_grids()
        .iter()
        .find_map(|grid| grid.decode().ok().map(|(_, text)| text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHRASE: &str = "abandon ability able about above absent absorb abstract absurd abuse access accident account accuse achieve acid acoustic acquire across act action actor actress actual";

    /// A `width` × `height` frame of grey paper with the code of `text` drawn at
    /// (`left`, `top`), `scale` pixels a module, in ink that is not quite black.
    fn frame(
        text: &str,
        width: usize,
        height: usize,
        left: usize,
        top: usize,
        scale: usize,
    ) -> Vec<u8> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).unwrap();
        let modules = code.width();
        let dark = code.to_colors();
        let mut rgba = vec![0u8; width * height * 4];
        for y in 0..height {
            for x in 0..width {
                let (mx, my) = ((x as isize - left as isize), (y as isize - top as isize));
                let quiet = 4 * scale as isize;
                let inside_paper = mx >= -quiet
                    && my >= -quiet
                    && mx < (modules * scale) as isize + quiet
                    && my < (modules * scale) as isize + quiet;
                let ink = mx >= 0
                    && my >= 0
                    && (mx as usize) < modules * scale
                    && (my as usize) < modules * scale
                    && dark[(my as usize / scale) * modules + mx as usize / scale]
                        == qrcode::Color::Dark;
                let level = match (inside_paper, ink) {
                    (_, true) => 40,
                    (true, false) => 230,
                    (false, false) => 150,
                };
                rgba[(y * width + x) * 4..][..4].copy_from_slice(&[level, level, level + 10, 255]);
            }
        }
        rgba
    }

    #[test]
    fn a_phrase_becomes_an_svg_qr_code() {
        let svg = qr_svg(PHRASE);
        assert!(
            svg.starts_with("<?xml") || svg.starts_with("<svg"),
            "{svg:.60}"
        );
        assert!(svg.contains("<path") || svg.contains("<rect"));
        assert!(!svg.contains("no QR code"));
    }

    #[test]
    fn the_phrase_reads_back_from_a_camera_frame_wherever_the_code_sits() {
        let (w, h) = (640, 480);
        for (left, top, scale) in [(120, 40, 4), (300, 150, 3), (20, 20, 5)] {
            let image = frame(PHRASE, w, h, left, top, scale);
            assert_eq!(
                read_qr(w, h, &image).as_deref(),
                Some(PHRASE),
                "at {left},{top} ×{scale}"
            );
        }
    }

    #[test]
    fn a_frame_without_a_code_or_of_the_wrong_size_reads_nothing() {
        let (w, h) = (320, 240);
        let blank = vec![200u8; w * h * 4];
        assert_eq!(read_qr(w, h, &blank), None);
        let image = frame(PHRASE, 640, 480, 100, 40, 4);
        assert_eq!(read_qr(640, 479, &image), None, "a buffer of another size");
        assert_eq!(read_qr(0, 0, &[]), None);
        assert_eq!(
            read_qr(usize::MAX, 2, &image),
            None,
            "a size that overflows"
        );
    }
}

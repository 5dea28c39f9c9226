//! Reads a QR code drawn as SVG the way the app draws it (a background rect and one path of
//! `M{x} {y}h{w}v{h}H{x}V{y}` squares) back into its text, as a phone's camera reads the
//! screen: the picture is rasterized and decoded by a QR reader that knows nothing of the app.

use anyhow::{anyhow, bail, Context, Result};

fn attribute<'a>(text: &'a str, name: &str) -> Result<&'a str> {
    let start = text
        .find(&format!(" {name}=\""))
        .ok_or_else(|| anyhow!("no {name} attribute"))?
        + name.len()
        + 3;
    let end = text[start..]
        .find('"')
        .ok_or_else(|| anyhow!("unterminated {name}"))?;
    Ok(&text[start..start + end])
}

/// The text of the QR code in `svg`.
pub fn read_svg_qr(svg: &str) -> Result<String> {
    let svg = &svg[svg.find("<svg").context("not an SVG")?..];
    let width: usize = attribute(svg, "width")?.parse()?;
    let height: usize = attribute(svg, "height")?.parse()?;
    let path = &svg[svg.find("<path").context("no path")?..];
    let mut pixels = vec![255u8; width * height];
    for square in attribute(path, "d")?.split('M').filter(|s| !s.is_empty()) {
        // "{x} {y}h{w}v{h}H{x}V{y}"
        let numbers: Vec<usize> = square
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        let [x, y, w, h, ..] = numbers[..] else {
            bail!("unexpected path segment {square:?}");
        };
        for row in y..(y + h).min(height) {
            for column in x..(x + w).min(width) {
                pixels[row * width + column] = 0;
            }
        }
    }
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    let grid = grids.first().context("no QR code found in the picture")?;
    let (_, text) = grid
        .decode()
        .map_err(|e| anyhow!("unreadable QR code: {e}"))?;
    Ok(text)
}

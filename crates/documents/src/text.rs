//! The text of a PDF, read back glyph by glyph through the fonts' Unicode maps, in the order
//! the page draws it: what tests of notices check ("does the order print the police's
//! condition?"). Spacing is not reconstructed (PDFs place words, they rarely draw blanks),
//! so compare with [`squeeze`] on both sides.

use hayro_cmap::BfString;
use hayro_interpret::font::Glyph;
use hayro_interpret::{
    interpret_page, BlendMode, ClipPath, Context, Device, GlyphDrawMode, Image, InterpreterCache, InterpreterSettings,
    Paint, PathDrawMode, SoftMask,
};
use hayro_syntax::Pdf;
use kurbo::{Affine, BezPath, Rect};

/// The text of every page of `pdf`, page after page; `None` if it is no readable PDF.
pub fn pdf_text(pdf: &[u8]) -> Option<String> {
    let pdf = Pdf::new(pdf.to_vec()).ok()?;
    let cache = InterpreterCache::new();
    let mut out = Collector::default();
    for page in pdf.pages().iter() {
        let mut context = Context::new(
            Affine::IDENTITY,
            Rect::new(0.0, 0.0, 1.0, 1.0),
            &cache,
            pdf.xref(),
            InterpreterSettings::default(),
        );
        interpret_page(page, &mut context, &mut out);
        out.text.push('\n');
    }
    Some(out.text)
}

/// `text` without any whitespace, for comparing extracted text.
pub fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[derive(Default)]
struct Collector {
    text: String,
}

impl Device<'_> for Collector {
    fn set_soft_mask(&mut self, _: Option<SoftMask<'_>>) {}
    fn set_blend_mode(&mut self, _: BlendMode) {}
    fn draw_path(&mut self, _: &BezPath, _: Affine, _: &Paint<'_>, _: &PathDrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'_>>, _: BlendMode) {}
    fn draw_glyph(&mut self, glyph: &Glyph<'_>, _: Affine, _: Affine, _: &Paint<'_>, _: &GlyphDrawMode) {
        match glyph.as_unicode() {
            Some(BfString::Char(c)) => self.text.push(c),
            Some(BfString::String(s)) => self.text.push_str(&s),
            None => self.text.push('\u{fffd}'),
        }
    }
    fn draw_image(&mut self, _: Image<'_, '_>, _: Affine) {}
    fn pop_clip_path(&mut self) {}
    fn pop_transparency_group(&mut self) {}
}

//! Scene options shared by `reel record` and `reel preview`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use reel_app::{Layout, Scene, Size, StageSpec};

#[derive(Args, Clone, Debug)]
pub struct SceneArgs {
    /// A slide deck: a folder of images (PNG, JPEG, WebP; sorted naturally) or a PDF.
    #[arg(long)]
    pub slides: Option<PathBuf>,
    /// Capture an X11 screen as the stage (default: $DISPLAY). `:0+X,Y` starts a region there.
    #[arg(long, num_args = 0..=1, default_missing_value = "", conflicts_with = "slides")]
    pub screen: Option<String>,
    /// Capture only a WxH region of the screen (its corner: --screen :0+X,Y).
    #[arg(long, requires = "screen")]
    pub region: Option<String>,
    /// Side by side with you on the left and the stage on the right.
    #[arg(long)]
    pub swap: bool,
    /// bubble | side | pip | camera | slides | screen (default: bubble with a stage and a
    /// camera, the stage alone without a camera, else camera).
    #[arg(long)]
    pub layout: Option<Layout>,
    /// Bubble size: s, m or l.
    #[arg(long, default_value = "m")]
    pub bubble_size: String,
    /// Bubble shape: circle or rounded.
    #[arg(long, default_value = "circle")]
    pub bubble_shape: String,
    /// Bubble corner: top-left, top-right, bottom-left, bottom-right, or X,Y (fractions).
    #[arg(long, default_value = "bottom-right")]
    pub corner: String,
    /// Do not mirror the presenter.
    #[arg(long)]
    pub no_mirror: bool,
    /// Background behind letterboxed slides and cameras: a colour (#rrggbb) or a picture file.
    #[arg(long, default_value = "#181a20")]
    pub background: String,
    /// A title card shown for the first 3 seconds.
    #[arg(long)]
    pub title_card: Option<String>,
    /// A lower third with your name (and --role) after the title card, for 5 seconds.
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, requires = "name")]
    pub role: Option<String>,
}

impl SceneArgs {
    /// Builds the scene and loads the stage (the deck is decoded and fitted here, once).
    pub fn build(&self, size: Size, has_camera: bool) -> Result<(Scene, StageSpec)> {
        let mut scene = Scene::default();
        if self.background.starts_with('#') {
            scene.background = reel_app::parse_color(&self.background).map_err(anyhow::Error::msg)?;
        } else {
            let p = PathBuf::from(&self.background);
            anyhow::ensure!(p.is_file(), "--background '{}' is neither a colour (#rrggbb) nor a picture file", self.background);
            scene.background_image = Some(p);
        }
        scene.swap = self.swap;
        let stage = if let Some(p) = &self.slides {
            StageSpec::Slides(std::sync::Arc::new(reel_app::load_deck(p, size, scene.background)?))
        } else if let Some(d) = &self.screen {
            let display = if d.is_empty() { std::env::var("DISPLAY").unwrap_or_default() } else { d.clone() };
            if display.is_empty() {
                bail!("--screen needs an X display and none is set: pass one (--screen :0) or run under X");
            }
            let region = self.region.as_ref().map(|r| r.parse::<Size>()).transpose()?;
            StageSpec::Screen { display, region }
        } else {
            StageSpec::None
        };
        let has_stage = !matches!(stage, StageSpec::None);
        scene.layout = match self.layout {
            Some(l) => l,
            None if has_stage && has_camera => Layout::Bubble,
            None if matches!(stage, StageSpec::Screen { .. }) => Layout::Screen,
            None if has_stage => Layout::Slides,
            None => Layout::Camera,
        };
        match scene.layout {
            Layout::Slides if self.slides.is_none() => bail!("--layout slides needs a deck: add --slides PATH"),
            Layout::Screen if self.screen.is_none() => bail!("--layout screen needs --screen [DISPLAY]"),
            Layout::Bubble | Layout::Side | Layout::Pip if !has_stage => {
                bail!("--layout {} puts you over slides or a screen: add --slides PATH or --screen", scene.layout)
            }
            _ => {}
        }
        scene.bubble.size = match self.bubble_size.to_ascii_lowercase().as_str() {
            "s" => reel_app::BubbleSize::S,
            "m" => reel_app::BubbleSize::M,
            "l" => reel_app::BubbleSize::L,
            other => bail!("--bubble-size '{other}': use s, m or l"),
        };
        scene.bubble.shape = match self.bubble_shape.to_ascii_lowercase().as_str() {
            "circle" => reel_app::Shape::Circle,
            "rounded" | "square" => reel_app::Shape::Rounded,
            other => bail!("--bubble-shape '{other}': use circle or rounded"),
        };
        scene.bubble.corner = self.corner.parse().map_err(anyhow::Error::msg)?;
        scene.bubble.mirror = !self.no_mirror;
        scene.title_card = self.title_card.as_ref().map(|t| reel_app::TitleCard { title: t.clone(), seconds: 3.0 });
        scene.lower_third = self.name.as_ref().map(|n| reel_app::LowerThird { name: n.clone(), role: self.role.clone().unwrap_or_default(), seconds: 5.0 });
        Ok((scene, stage))
    }
}

//! The scene: what the viewer sees, as data (serde), so it can be stored in a recording's
//! timeline, sent from the UI and changed live.

use std::fmt;
use std::str::FromStr;

/// How the stage (slides or screen) and the presenter (camera) share the canvas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// The presenter in a circle or rounded square over the stage.
    Bubble,
    /// Stage and presenter side by side.
    Side,
    /// The presenter full, the stage small in a corner.
    Pip,
    /// The presenter only.
    Camera,
    /// The stage only (slides).
    Slides,
    /// The stage only (screen).
    Screen,
}

impl Layout {
    pub const ALL: [Layout; 6] = [Layout::Bubble, Layout::Side, Layout::Pip, Layout::Camera, Layout::Slides, Layout::Screen];

    pub fn shows_presenter(self) -> bool {
        !matches!(self, Layout::Slides | Layout::Screen)
    }
}

impl FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bubble" => Ok(Layout::Bubble),
            "side" | "side-by-side" => Ok(Layout::Side),
            "pip" => Ok(Layout::Pip),
            "camera" => Ok(Layout::Camera),
            "slides" => Ok(Layout::Slides),
            "screen" => Ok(Layout::Screen),
            other => Err(format!("unknown layout '{other}': use bubble, side, pip, camera, slides or screen")),
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        f.write_str(&s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BubbleSize {
    S,
    M,
    L,
}

impl BubbleSize {
    /// Bubble diameter as a fraction of the canvas height.
    pub fn fraction(self) -> f32 {
        match self {
            BubbleSize::S => 0.22,
            BubbleSize::M => 0.30,
            BubbleSize::L => 0.42,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    Circle,
    Rounded,
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
    /// Centre of the bubble at (x, y), each a fraction 0..1 of the canvas.
    At {
        x: f32,
        y: f32,
    },
}

impl FromStr for Corner {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "top-left" | "tl" => Ok(Corner::TopLeft),
            "top-right" | "tr" => Ok(Corner::TopRight),
            "bottom-left" | "bl" => Ok(Corner::BottomLeft),
            "bottom-right" | "br" => Ok(Corner::BottomRight),
            other => {
                let (x, y) =
                    other.split_once(',').ok_or_else(|| format!("unknown corner '{other}': use top-left, top-right, bottom-left, bottom-right or X,Y (fractions 0..1)"))?;
                let p = |v: &str| v.trim().parse::<f32>().ok().filter(|f| (0.0..=1.0).contains(f));
                match (p(x), p(y)) {
                    (Some(x), Some(y)) => Ok(Corner::At { x, y }),
                    _ => Err(format!("position '{other}' must be two fractions between 0 and 1, like 0.8,0.75")),
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Bubble {
    pub size: BubbleSize,
    pub shape: Shape,
    pub corner: Corner,
    /// Show the presenter as in a mirror (what people expect to see of themselves).
    pub mirror: bool,
}

impl Default for Bubble {
    fn default() -> Self {
        Bubble { size: BubbleSize::M, shape: Shape::Circle, corner: Corner::BottomRight, mirror: true }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TitleCard {
    pub title: String,
    /// Shown from the start for this long.
    pub seconds: f32,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LowerThird {
    pub name: String,
    #[serde(default)]
    pub role: String,
    /// Shown after the title card (if any) for this long.
    pub seconds: f32,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scene {
    pub layout: Layout,
    pub bubble: Bubble,
    /// Background colour (RGBA) behind letterboxed stages.
    pub background: [u8; 4],
    /// Presenter hidden (camera off) without changing the layout.
    #[serde(default)]
    pub camera_off: bool,
    /// Side by side with the presenter on the left and the stage on the right.
    #[serde(default)]
    pub swap: bool,
    /// A background picture instead of the colour (behind letterboxed stages and cameras).
    #[serde(default)]
    pub background_image: Option<std::path::PathBuf>,
    #[serde(default)]
    pub title_card: Option<TitleCard>,
    #[serde(default)]
    pub lower_third: Option<LowerThird>,
}

impl Default for Scene {
    fn default() -> Self {
        Scene {
            layout: Layout::Camera,
            bubble: Bubble::default(),
            background: [24, 26, 32, 255],
            camera_off: false,
            swap: false,
            background_image: None,
            title_card: None,
            lower_third: None,
        }
    }
}

/// Parses `#rrggbb` into RGBA.
pub fn parse_color(s: &str) -> Result<[u8; 4], String> {
    let h = s.trim().trim_start_matches('#');
    if h.len() != 6 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("colour '{s}' is not #rrggbb (for example #1e1e24)"));
    }
    let b = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or(0);
    Ok([b(0), b(2), b(4), 255])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_and_corners_parse() {
        for l in Layout::ALL {
            assert_eq!(l.to_string().parse::<Layout>().unwrap(), l);
        }
        assert!("grid".parse::<Layout>().unwrap_err().contains("bubble, side"));
        assert_eq!("tl".parse::<Corner>().unwrap(), Corner::TopLeft);
        assert_eq!("0.5,0.25".parse::<Corner>().unwrap(), Corner::At { x: 0.5, y: 0.25 });
        assert!("2,2".parse::<Corner>().is_err());
        assert_eq!(parse_color("#ff0080").unwrap(), [255, 0, 128, 255]);
        assert!(parse_color("red").is_err());
    }
}

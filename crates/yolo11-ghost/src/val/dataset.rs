//! A YOLO-format detection dataset as Ultralytics reads it: a data YAML (`path`, `train`, `val`,
//! `test`, `names`, `nc`), image directories or `.txt` image lists, and one label file per image
//! (`labels/` beside `images/`, same stem, `.txt`) with rows `class cx cy w h` normalised to the
//! image (polygon rows `class x1 y1 x2 y2 ...` are turned into their bounding box).

use std::path::{Path, PathBuf};

use ghost_limits::text::{display_path, escape_terminal};
use ghost_limits::{load_yaml, YamlLimits};
use yaml_rust2::Yaml;

use super::labels::{read_and_check, LabelCheck};

/// Everything that can go wrong reading a dataset. A malformed label file is not an error: like
/// Ultralytics, the image is left out and a warning names it ("ignoring corrupt image/label").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The data YAML is not valid YAML or lacks what a detection dataset needs.
    #[error("dataset YAML {path}: {message}")]
    Yaml {
        /// The YAML file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file was refused before reading: not a regular file, or above its size limit (an
    /// operating-system error reading it is `Io`).
    #[error(transparent)]
    File(ghost_limits::FileError),
    /// A directory walk failed (unlistable directory, too many entries).
    #[error(transparent)]
    Walk(#[from] ghost_limits::WalkError),
    /// The split lists no images.
    #[error("dataset split {split:?} of {path} has no images")]
    NoImages {
        /// The split (`val`, `test`, `train`).
        split: String,
        /// The YAML file.
        path: PathBuf,
    },
}

impl From<ghost_limits::FileError> for DatasetError {
    /// Operating-system errors are [`DatasetError::Io`], as for every crate's `Io`; refusals by
    /// kind or size are [`DatasetError::File`].
    fn from(e: ghost_limits::FileError) -> Self {
        match e {
            ghost_limits::FileError::Io { path, source } => DatasetError::Io { path, source },
            other => DatasetError::File(other),
        }
    }
}

/// Image file extensions Ultralytics accepts (`IMG_FORMATS`).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic",
];

/// One ground-truth box: class and normalised `cx, cy, w, h`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Label {
    /// Class id.
    pub class: usize,
    /// Normalised `[cx, cy, w, h]`.
    pub xywh: [f32; 4],
}

/// One image of a split and its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The image file.
    pub image: PathBuf,
    /// Its labels (empty for a background image or a missing label file).
    pub labels: Vec<Label>,
}

/// A dataset YAML: class names and the images of one split.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The YAML file.
    pub yaml: PathBuf,
    /// Class names, index = class id.
    pub names: Vec<String>,
    /// The split read (`val` by default).
    pub split: String,
    /// Its images in sorted path order, with labels (images with a corrupt label file left out).
    pub samples: Vec<Sample>,
    /// What was skipped or changed, one message per file, as Ultralytics reports it while
    /// caching labels (`{image}: ignoring corrupt image/label: ...`, `{image}: 2 duplicate labels
    /// removed`, a second path to an image already listed). Terminal-safe.
    pub warnings: Vec<String>,
}

impl Dataset {
    /// Reads `yaml` and the images and labels of `split` (`val`, `test` or `train`).
    ///
    /// A relative `path` (the dataset root) is taken relative to the YAML's directory when that
    /// exists, else to the working directory (Ultralytics looks in the working directory and then
    /// in its datasets directory); no `path` means the YAML's directory.
    pub fn open(yaml: &Path, split: &str) -> Result<Dataset, DatasetError> {
        let text = ghost_limits::read_text_bounded(yaml, ghost_limits::budget::yaml_file())?;
        let bad = |message: String| DatasetError::Yaml {
            path: yaml.to_path_buf(),
            message,
        };
        let docs = load_yaml(&text, YamlLimits::default()).map_err(|e| bad(e.to_string()))?;
        let doc = docs
            .first()
            .filter(|d| d.as_hash().is_some())
            .ok_or_else(|| bad("expected a mapping with `path`, `val` and `names`".into()))?;
        let names = read_names(doc).map_err(bad)?;
        let yaml_dir = yaml.parent().unwrap_or(Path::new("")).to_path_buf();
        let root = match &doc["path"] {
            Yaml::String(p) => {
                let p = PathBuf::from(p);
                if p.is_absolute() {
                    p
                } else if yaml_dir.join(&p).exists() {
                    yaml_dir.join(&p)
                } else {
                    p
                }
            }
            Yaml::BadValue | Yaml::Null => yaml_dir.clone(),
            other => return Err(bad(format!("`path` must be a string, found {other:?}"))),
        };
        let entries: Vec<String> = match &doc[split] {
            Yaml::String(s) => vec![s.clone()],
            Yaml::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad(format!("`{split}` entries must be strings")))
                })
                .collect::<Result<_, _>>()?,
            Yaml::BadValue | Yaml::Null => {
                return Err(bad(format!("no `{split}` split (image directory or list)")))
            }
            other => {
                return Err(bad(format!(
                    "`{split}` must be a path or a list of paths, found {other:?}"
                )))
            }
        };
        let mut images = Vec::new();
        let mut warnings = Vec::new();
        for entry in &entries {
            let p = root.join(entry);
            collect_images(&p, &mut images, &mut warnings)?;
        }
        images.sort();
        images.dedup();
        if images.is_empty() {
            return Err(DatasetError::NoImages {
                split: split.to_string(),
                path: yaml.to_path_buf(),
            });
        }
        let mut samples = Vec::with_capacity(images.len());
        for image in images {
            match read_and_check(&label_path(&image), names.len()) {
                LabelCheck::Ok { labels, duplicates } => {
                    if duplicates > 0 {
                        warnings.push(format!(
                            "{}: {duplicates} duplicate labels removed",
                            display_path(&image)
                        ));
                    }
                    samples.push(Sample { image, labels });
                }
                LabelCheck::Corrupt(why) => warnings.push(format!(
                    "{}: ignoring corrupt image/label: {}",
                    display_path(&image),
                    escape_terminal(&why)
                )),
            }
        }
        if samples.is_empty() {
            return Err(DatasetError::NoImages {
                split: split.to_string(),
                path: yaml.to_path_buf(),
            });
        }
        Ok(Dataset {
            yaml: yaml.to_path_buf(),
            names,
            split: split.to_string(),
            samples,
            warnings,
        })
    }

    /// Total labelled boxes.
    pub fn instances(&self) -> usize {
        self.samples.iter().map(|s| s.labels.len()).sum()
    }
}

/// `names` as a list or an `{id: name}` mapping; `nc` must agree when given.
fn read_names(doc: &Yaml) -> Result<Vec<String>, String> {
    let names: Vec<String> = match &doc["names"] {
        Yaml::Array(items) => items
            .iter()
            .map(yaml_scalar)
            .collect::<Option<_>>()
            .ok_or("`names` entries must be strings")?,
        Yaml::Hash(map) => {
            let mut pairs = map
                .iter()
                .map(|(k, v)| Some((k.as_i64()?, yaml_scalar(v)?)))
                .collect::<Option<Vec<_>>>()
                .ok_or("`names` must map integer class ids to names")?;
            pairs.sort_by_key(|p| p.0);
            if pairs.iter().enumerate().any(|(i, (k, _))| *k != i as i64) {
                return Err("`names` ids must be 0, 1, 2, ... without gaps".into());
            }
            pairs.into_iter().map(|p| p.1).collect()
        }
        _ => return Err("missing `names` (a list or an {id: name} mapping)".into()),
    };
    if let Some(nc) = doc["nc"].as_i64() {
        if nc != names.len() as i64 {
            return Err(format!(
                "`nc` is {nc} but `names` has {} entries",
                names.len()
            ));
        }
    }
    if names.is_empty() {
        return Err("`names` is empty".into());
    }
    Ok(names)
}

fn yaml_scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Image files under a directory (recursively, as Ultralytics' `**/*.*` glob), a `.txt` list
/// (one path per line, relative to the list's directory) or a single image.
///
/// Directories are walked with [`ghost_limits::walk_files`]: symlinks are followed as `glob`
/// follows them, but a directory is entered once and a file listed once, so a symlink loop
/// ends and never counts an image twice; what was passed over becomes a warning.
fn collect_images(
    path: &Path,
    out: &mut Vec<PathBuf>,
    warnings: &mut Vec<String>,
) -> Result<(), DatasetError> {
    let io = |source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        let walk =
            ghost_limits::walk_files(path, true, ghost_limits::budget::walk_entries(), is_image)?;
        out.extend(walk.files);
        for (p, why) in walk.skipped {
            warnings.push(format!("{}: skipped: {why}", display_path(&p)));
        }
    } else if path.extension().is_some_and(|e| e == "txt") {
        let text = ghost_limits::read_text_bounded(path, ghost_limits::budget::image_list())?;
        let base = path.parent().unwrap_or(Path::new(""));
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let p = line.strip_prefix("./").unwrap_or(line);
            let p = if Path::new(p).is_absolute() {
                PathBuf::from(p)
            } else {
                base.join(p)
            };
            if is_image(&p) {
                out.push(p);
            }
        }
    } else if is_image(path) && path.exists() {
        out.push(path.to_path_buf());
    } else {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "not an image directory, image list (.txt) or image file",
        )));
    }
    Ok(())
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Ultralytics `img2label_paths`: the last `/images/` component becomes `/labels/`, the
/// extension `.txt`.
pub fn label_path(image: &Path) -> PathBuf {
    let components: Vec<_> = image.components().collect();
    let idx = components.iter().rposition(|c| c.as_os_str() == "images");
    let mut p = PathBuf::new();
    for (i, c) in components.iter().enumerate() {
        if Some(i) == idx && i + 1 < components.len() {
            p.push("labels");
        } else {
            p.push(c.as_os_str());
        }
    }
    p.set_extension("txt");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_paths_swap_the_last_images_dir() {
        assert_eq!(
            label_path(Path::new("d/images/val/a.jpg")),
            PathBuf::from("d/labels/val/a.txt")
        );
        assert_eq!(
            label_path(Path::new("images/x/images/b.png")),
            PathBuf::from("images/x/labels/b.txt")
        );
    }

    #[test]
    fn reads_a_dataset_with_lists_dirs_and_polygons() {
        let dir = std::env::temp_dir().join(format!("ghost-yolo-ds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("images/val")).unwrap();
        std::fs::create_dir_all(dir.join("labels/val")).unwrap();
        std::fs::write(dir.join("images/val/b.png"), b"").unwrap();
        std::fs::write(dir.join("images/val/a.jpg"), b"").unwrap();
        std::fs::write(dir.join("images/val/notes.md"), b"").unwrap();
        std::fs::write(
            dir.join("labels/val/a.txt"),
            "1 0.5 0.5 0.2 0.4\n1 0.5 0.5 0.2 0.4\n0 0.1 0.1 0.3 0.1 0.3 0.3\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("data.yaml"),
            "path: .\nval: images/val\nnames:\n  0: ring\n  1: star\n",
        )
        .unwrap();
        let ds = Dataset::open(&dir.join("data.yaml"), "val").unwrap();
        assert_eq!(ds.names, ["ring", "star"]);
        assert_eq!(ds.samples.len(), 2, "{ds:?}");
        assert!(ds.samples[0].image.ends_with("a.jpg"));
        assert_eq!(ds.samples[0].labels.len(), 2, "duplicate row dropped");
        // As numpy returns them after removing a duplicate: distinct rows sorted, the polygon's
        // class 0 first. With a polygon in the file every row is a polygon (Ultralytics), so
        // `1 0.5 0.5 0.2 0.4` is the two points (0.5, 0.5), (0.2, 0.4): box centre 0.35, width 0.3.
        let poly = ds.samples[0].labels[0];
        assert_eq!(poly.class, 0);
        assert!((poly.xywh[0] - 0.2).abs() < 1e-6 && (poly.xywh[2] - 0.2).abs() < 1e-6);
        let two_points = ds.samples[0].labels[1];
        assert_eq!(two_points.class, 1);
        assert!((two_points.xywh[0] - 0.35).abs() < 1e-6, "{two_points:?}");
        assert!((two_points.xywh[2] - 0.3).abs() < 1e-6, "{two_points:?}");
        assert!(ds.samples[1].labels.is_empty(), "no label file: background");

        assert_eq!(ds.warnings.len(), 1, "{:?}", ds.warnings);
        assert!(ds.warnings[0].contains("1 duplicate labels removed"));

        // Ultralytics: a class beyond `names` makes the image corrupt: skipped, with a warning.
        std::fs::write(dir.join("labels/val/b.txt"), "5 0.5 0.5 0.1 0.1\n").unwrap();
        let ds = Dataset::open(&dir.join("data.yaml"), "val").unwrap();
        assert_eq!(ds.samples.len(), 1, "{ds:?}");
        assert!(
            ds.warnings
                .iter()
                .any(|w| w.contains("b.png: ignoring corrupt image/label: Label class 5 exceeds")),
            "{:?}",
            ds.warnings
        );
        let err = Dataset::open(&dir.join("data.yaml"), "test").unwrap_err();
        assert!(err.to_string().contains("no `test` split"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The disk images: `DIR/<channel>.dsk`, opened on first use and kept open, made from the
//! template on first use when missing. Sectors are read and written in place
//! (`pread`/`pwrite`), so several servers on one directory see each other's writes, and
//! [`Images::sync`] makes written sectors durable (`fdatasync`) before they are
//! acknowledged.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use altair_firmware::platform::{IMAGE_BYTES, PADDED_EXTRA, SECTOR_BYTES, is_image_size};

/// What an image file must measure, for messages.
fn sizes() -> String {
    format!("{IMAGE_BYTES} or {} bytes", IMAGE_BYTES + PADDED_EXTRA)
}

/// Checks that `path` is a disk image by its size.
pub fn check_image(path: &Path) -> Result<(), String> {
    let len = fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if is_image_size(len) {
        Ok(())
    } else {
        Err(format!(
            "{} is {len} bytes, not a disk image ({})",
            path.display(),
            sizes()
        ))
    }
}

/// One open image.
struct Image {
    file: File,
    /// Written since the last sync.
    dirty: bool,
}

/// The images of a directory.
pub struct Images {
    dir: PathBuf,
    template: Option<PathBuf>,
    open: HashMap<String, Image>,
    /// Problems already logged, so a device retrying does not flood the log.
    reported: HashSet<String>,
}

impl Images {
    /// The images in `dir`, new ones copied from `template` (checked here).
    pub fn new(dir: &Path, template: Option<&Path>) -> Result<Images, String> {
        if !dir.is_dir() {
            return Err(format!("{} is not a directory", dir.display()));
        }
        // Canonical paths, so the template is recognised however it was named.
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let template = match template {
            Some(t) => {
                check_image(t).map_err(|e| format!("--template: {e}"))?;
                Some(
                    t.canonicalize()
                        .map_err(|e| format!("{}: {e}", t.display()))?,
                )
            }
            None => None,
        };
        Ok(Images {
            dir,
            template,
            open: HashMap::new(),
            reported: HashSet::new(),
        })
    }

    /// The image file of `channel`.
    pub fn path(&self, channel: &str) -> PathBuf {
        self.dir.join(format!("{channel}.dsk"))
    }

    /// Reads the sector at `offset` (checked by the caller to be a sector).
    pub fn read(&mut self, channel: &str, offset: u32) -> Result<[u8; SECTOR_BYTES], String> {
        let path = self.path(channel);
        let image = self.image(channel)?;
        let mut sector = [0; SECTOR_BYTES];
        image
            .file
            .read_exact_at(&mut sector, offset.into())
            .map_err(|e| format!("{}: read at {offset}: {e}", path.display()))?;
        Ok(sector)
    }

    /// Writes the sector at `offset`; durable only after [`Images::sync`].
    pub fn write(
        &mut self,
        channel: &str,
        offset: u32,
        sector: &[u8; SECTOR_BYTES],
    ) -> Result<(), String> {
        let path = self.path(channel);
        let image = self.image(channel)?;
        image.dirty = true;
        image
            .file
            .write_all_at(sector, offset.into())
            .map_err(|e| format!("{}: write at {offset}: {e}", path.display()))
    }

    /// Makes every write so far durable: one `fdatasync` per image written, all at once
    /// (the filesystem commits concurrent syncs together, so many channels cost about one
    /// sync, not one each). Returns the channels whose sync failed, with why (their writes
    /// must not be acknowledged).
    pub fn sync(&mut self) -> Vec<(String, String)> {
        let dirty: Vec<(&String, &File)> = self
            .open
            .iter_mut()
            .filter_map(|(channel, image)| {
                std::mem::take(&mut image.dirty).then_some((channel, &image.file))
            })
            .collect();
        if let [(channel, file)] = dirty[..] {
            return match file.sync_data() {
                Ok(()) => Vec::new(),
                Err(e) => vec![(channel.clone(), e.to_string())],
            };
        }
        std::thread::scope(|scope| {
            let syncs: Vec<_> = dirty
                .into_iter()
                .map(|(channel, file)| (channel, scope.spawn(move || file.sync_data())))
                .collect();
            syncs
                .into_iter()
                .filter_map(|(channel, sync)| match sync.join() {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some((channel.clone(), e.to_string())),
                    Err(_) => Some((channel.clone(), "the sync thread panicked".to_owned())),
                })
                .collect()
        })
    }

    /// Whether `problem` is new (and now recorded): log it only then.
    pub fn first_report(&mut self, problem: &str) -> bool {
        self.reported.insert(problem.to_owned())
    }

    /// The open image of `channel`, opening (or making) it on first use.
    fn image(&mut self, channel: &str) -> Result<&mut Image, String> {
        if !self.open.contains_key(channel) {
            let file = self.open_file(channel)?;
            self.open
                .insert(channel.to_owned(), Image { file, dirty: false });
        }
        self.open
            .get_mut(channel)
            .ok_or_else(|| format!("image of {channel} not open"))
    }

    fn open_file(&self, channel: &str) -> Result<File, String> {
        let path = self.path(channel);
        if self.template.as_deref() == Some(path.as_path()) {
            return Err(format!(
                "{} is the template image: it is not served as a channel's disk",
                path.display()
            ));
        }
        if !path.exists() {
            self.create_from_template(channel, &path)?;
        }
        check_image(&path)?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Copies the template to `path` so that the image appears whole or not at all, and
    /// never replaces one another server made meanwhile.
    fn create_from_template(&self, channel: &str, path: &Path) -> Result<(), String> {
        let Some(template) = &self.template else {
            return Err(format!(
                "no image {} and no --template to make it from",
                path.display()
            ));
        };
        let partial = self
            .dir
            .join(format!(".{channel}.dsk.{}.partial", std::process::id()));
        let made = fs::copy(template, &partial)
            .and_then(|_| File::open(&partial)?.sync_all())
            // A link fails if the name exists: the first server to make it wins.
            .and_then(|()| match fs::hard_link(&partial, path) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                other => other,
            })
            .and_then(|()| File::open(&self.dir)?.sync_all());
        let _ = fs::remove_file(&partial);
        made.map_err(|e| {
            format!(
                "cannot make {} from {}: {e}",
                path.display(),
                template.display()
            )
        })?;
        eprintln!("vdisk: made {} from {}", path.display(), template.display());
        Ok(())
    }
}

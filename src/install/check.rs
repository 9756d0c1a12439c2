//! `-check-mode=sopsfile`: proves, without keys, that every secret's key exists in its (still
//! encrypted) sops file. Each file is read and parsed once.

use crate::manifest::Manifest;
use crate::sops::path::{lookup, parse_slash_key};
use crate::sops::Format;
use anyhow::{anyhow, Result};
use std::collections::HashMap;
use std::path::Path;

pub fn sops_files(m: &Manifest) -> Result<()> {
    let mut loaded: HashMap<&Path, crate::sops::EncryptedFile> = HashMap::new();
    for (file, format) in m.sops_files() {
        let bytes = super::input::read(file, super::input::SOPS_FILE)?;
        let f = crate::sops::load(format, &bytes)
            .map_err(|e| anyhow!("cannot parse {format} of '{}': {e}", file.display()))?;
        loaded.insert(file, f);
    }
    for s in &m.secrets {
        if matches!(s.format, Format::Binary | Format::Dotenv | Format::Ini) || s.key.is_empty() {
            continue;
        }
        let f = &loaded[s.sops_file.as_path()];
        lookup(&f.tree, &parse_slash_key(&s.key)).map_err(|e| {
            anyhow!(
                "secret {} in {} is not valid: the key '{}' cannot be found ({e})",
                s.name,
                s.sops_file.display(),
                s.key
            )
        })?;
    }
    Ok(())
}

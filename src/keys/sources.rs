//! Where identities come from: SOPS' environment and default paths (`Keyring::from_env`), and
//! explicit files (`--identity`, `--ssh-key`, the installer's `sshKeyPaths`/`keyFile`/`gnupgHome`).
//!
//! A source that fails to load is recorded in `load_errors` (and so reported by `NoDataKey`), never
//! fatal by itself: another source may still hold the right key.

use super::{age, gpg::Gpg, AgeIdentity, KeyError, Keyring};
use crate::secret::SecretString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

/// The environment variables SOPS reads. A trait so tests can give a map instead of mutating the
/// process environment.
pub trait Env {
    /// The variable's value, `None` when unset.
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub(crate) struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

pub(crate) const SOPS_AGE_SSH_PRIVATE_KEY_FILE: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";
pub(crate) const SOPS_AGE_KEY: &str = "SOPS_AGE_KEY";
pub(crate) const SOPS_AGE_KEY_FILE: &str = "SOPS_AGE_KEY_FILE";
pub(crate) const SOPS_AGE_KEY_CMD: &str = "SOPS_AGE_KEY_CMD";

/// Go's `os.UserConfigDir` on Linux: `$XDG_CONFIG_HOME` (must be absolute), else `$HOME/.config`.
fn user_config_dir(env: &dyn Env) -> Result<PathBuf, &'static str> {
    match env.var("XDG_CONFIG_HOME").filter(|s| !s.is_empty()) {
        Some(dir) if Path::new(&dir).is_absolute() => Ok(PathBuf::from(dir)),
        Some(_) => Err("path in $XDG_CONFIG_HOME is relative"),
        None => match env.var("HOME").filter(|s| !s.is_empty()) {
            Some(home) => Ok(PathBuf::from(home).join(".config")),
            None => Err("neither $XDG_CONFIG_HOME nor $HOME are defined"),
        },
    }
}

impl Keyring {
    /// Every source SOPS reads, in its order, from the process environment; pgp keys fall back
    /// to the `gpg` binary with its default home, as SOPS does.
    pub fn from_env() -> Keyring {
        Keyring::from_env_with(&ProcessEnv)
    }

    /// [`Keyring::from_env`] with the environment given by `env`.
    pub fn from_env_with(env: &dyn Env) -> Keyring {
        let mut k = Keyring::new();
        k.load_env(env);
        k
    }

    /// Adds SOPS' sources, in its order:
    /// 1. age-ssh identities: `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, `~/.ssh/id_ed25519`, `~/.ssh/id_rsa`
    ///    (an ed25519 key also gives its ssh-to-age identity, so sops-nix host-key files decrypt);
    /// 2. `SOPS_AGE_KEY` (newline-separated), 3. `SOPS_AGE_KEY_FILE`, 4. `SOPS_AGE_KEY_CMD`;
    /// 5. `$XDG_CONFIG_HOME/sops/age/keys.txt` (or `~/.config/…`), when it exists;
    /// 6. the gpg binary (`SOPS_GPG_EXEC` or `gpg`) with gpg's default home (`GNUPGHOME`);
    /// 7. `SOPS_DECRYPTION_ORDER`.
    pub(crate) fn load_env(&mut self, env: &dyn Env) {
        if let Some(path) = env.var(SOPS_AGE_SSH_PRIVATE_KEY_FILE) {
            let _ = self.add_ssh_key(Path::new(&path));
        }
        if let Some(home) = env.var("HOME").filter(|s| !s.is_empty()) {
            for name in ["id_ed25519", "id_rsa"] {
                let p = Path::new(&home).join(".ssh").join(name);
                if p.exists() {
                    let _ = self.add_ssh_key(&p);
                }
            }
        }
        if let Some(text) = env.var(SOPS_AGE_KEY).map(SecretString::new) {
            let _ = self.add_identity_text(SOPS_AGE_KEY, text.expose().as_bytes());
        }
        if let Some(path) = env.var(SOPS_AGE_KEY_FILE) {
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let bytes = crate::secret::SecretBytes::new(bytes);
                    let _ = self
                        .add_identity_text(&format!("{SOPS_AGE_KEY_FILE} {path}"), bytes.expose());
                }
                Err(e) => self.load_errors.push(KeyError::Unreadable(format!(
                    "{SOPS_AGE_KEY_FILE} {path}: cannot read: {e}"
                ))),
            }
        }
        if let Some(cmd) = env.var(SOPS_AGE_KEY_CMD) {
            let _ = self.add_key_command(&cmd);
        }
        match user_config_dir(env) {
            Ok(dir) => {
                let path = dir.join("sops").join("age").join("keys.txt");
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        let bytes = crate::secret::SecretBytes::new(bytes);
                        let _ = self.add_identity_text(&path.display().to_string(), bytes.expose());
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => self.load_errors.push(KeyError::Unreadable(format!(
                        "{}: cannot read: {e}",
                        path.display()
                    ))),
                }
            }
            Err(e) => {
                if self.age.is_empty() {
                    self.load_errors.push(KeyError::Setting(format!(
                        "sops/age/keys.txt: user config directory unknown: {e}"
                    )));
                }
            }
        }
        if let Some(order) = env.var("SOPS_DECRYPTION_ORDER") {
            match super::parse_decryption_order(&order) {
                Ok(o) => self.decryption_order = o,
                Err(e) => self.load_errors.push(e.prefixed("SOPS_DECRYPTION_ORDER")),
            }
        }
        let binary = env
            .var("SOPS_GPG_EXEC")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "gpg".into());
        if self.gpg.is_none() {
            self.gpg = Some(Gpg { binary, home: None });
        }
    }

    /// Lets encrypted identity files, passphrase-protected SSH keys and plugin PIN prompts ask
    /// for a passphrase. Without it they fail with a clear error (activation cannot prompt).
    pub fn set_passphrase_callback(
        &mut self,
        f: impl Fn(&str) -> Option<SecretString> + Send + Sync + 'static,
    ) {
        self.callbacks.passphrase = Some(Arc::new(f));
    }

    fn record<T>(&mut self, r: Result<T, KeyError>) -> Result<T, KeyError> {
        if let Err(e) = &r {
            self.load_errors.push(e.clone());
        }
        r
    }

    /// A key file's name for messages and its bytes; a read error is recorded and returned.
    fn read_key_file(
        &mut self,
        path: &Path,
    ) -> Result<(String, crate::secret::SecretBytes), KeyError> {
        let source = path.display().to_string();
        match std::fs::read(path) {
            Ok(b) => Ok((source, crate::secret::SecretBytes::new(b))),
            Err(e) => self.record(Err(KeyError::Unreadable(format!(
                "{source}: cannot read: {e}"
            )))),
        }
    }

    /// Identity text (a key file's content, `SOPS_AGE_KEY`, a key command's output) named
    /// `source`. Returns how many identities it gave.
    pub fn add_identity_text(&mut self, source: &str, bytes: &[u8]) -> Result<usize, KeyError> {
        let parsed = age::parse_source(source, bytes, &self.callbacks);
        match parsed {
            Ok(p) => {
                let n = p.identities.len();
                self.age.extend(p.identities);
                self.load_errors.extend(p.problems);
                Ok(n)
            }
            Err(e) => self.record(Err(e)),
        }
    }

    /// An age identity file (`--identity`, the installer's `keyFile`).
    pub fn add_identity_file(&mut self, path: &Path) -> Result<usize, KeyError> {
        let (source, bytes) = self.read_key_file(path)?;
        self.add_identity_text(&source, bytes.expose())
    }

    /// `SOPS_AGE_KEY_CMD`: split with shell rules, run (stdin closed), stdout parsed.
    pub(crate) fn add_key_command(&mut self, cmd: &str) -> Result<usize, KeyError> {
        let source = format!("{SOPS_AGE_KEY_CMD} `{cmd}`");
        let Some(args) = shlex::split(cmd).filter(|a| !a.is_empty()) else {
            return self.record(Err(KeyError::Setting(format!(
                "{source}: cannot parse the command"
            ))));
        };
        let child = Command::new(&args[0])
            .args(&args[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                return self.record(Err(KeyError::Unreadable(format!(
                    "{source}: cannot run it: {e}"
                ))))
            }
        };
        // stderr on its own thread, so that neither pipe can fill up and stall the command.
        let errors = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = std::io::Read::read_to_end(&mut pipe, &mut b);
                b
            })
        });
        // The key is read straight into the wiping type: a growing plain `Vec` would leave
        // pieces of it in freed memory.
        let mut stdout = crate::secret::SecretBytes::default();
        let read = match child.stdout.take() {
            Some(mut pipe) => stdout.read_to_end(&mut pipe).map(drop),
            None => Ok(()),
        };
        let status = child.wait();
        let stderr = errors.and_then(|t| t.join().ok()).unwrap_or_default();
        let status = match (read, status) {
            (Ok(()), Ok(status)) => status,
            (Err(e), _) | (_, Err(e)) => {
                return self.record(Err(KeyError::Unreadable(format!(
                    "{source}: cannot read its output: {e}"
                ))))
            }
        };
        if !status.success() {
            let stderr = String::from_utf8_lossy(&stderr);
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            return self.record(Err(KeyError::Unreadable(format!(
                "{source}: failed ({status}){}",
                last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
            ))));
        }
        self.add_identity_text(&source, stdout.expose())
    }

    /// An OpenSSH private key (`--ssh-key`, `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, `~/.ssh/id_*`): the
    /// native age-ssh identity, and for ed25519 also its ssh-to-age X25519 identity.
    pub fn add_ssh_key(&mut self, path: &Path) -> Result<(), KeyError> {
        let (source, bytes) = self.read_key_file(path)?;
        let native = age::ssh_identity(&source, bytes.expose(), &self.callbacks);
        let is_ed25519 = ssh_key::PrivateKey::from_openssh(bytes.expose())
            .map(|k| k.algorithm() == ssh_key::Algorithm::Ed25519)
            .unwrap_or(false);
        let converted = is_ed25519.then(|| self.converted_identity(&source, bytes.expose()));
        let native_ok = match native {
            Ok(id) => {
                self.age.push(id);
                true
            }
            Err(e) => {
                self.load_errors.push(e);
                false
            }
        };
        match converted {
            Some(Ok((id, _))) => {
                self.age.push(id);
                Ok(())
            }
            Some(Err(e)) if !native_ok => self.record(Err(e)),
            Some(Err(e)) => {
                self.load_errors.push(e);
                Ok(())
            }
            None if native_ok => Ok(()),
            // Not ed25519: the native identity's error (recorded above) is the answer.
            None => {
                Err(self.load_errors.last().cloned().unwrap_or_else(|| {
                    KeyError::Invalid(format!("{source}: not a usable SSH key"))
                }))
            }
        }
    }

    fn converted_identity(
        &self,
        source: &str,
        bytes: &[u8],
    ) -> Result<(AgeIdentity, String), KeyError> {
        let c = super::ssh_to_age::convert_private_key(bytes).map_err(|e| {
            let msg = format!("{source}: cannot convert to an age key: {e}");
            match e {
                super::ssh_to_age::SshToAgeError::Encrypted => KeyError::Locked(msg),
                _ => KeyError::Invalid(msg),
            }
        })?;
        let recipient = c.recipient.clone();
        Ok((
            AgeIdentity {
                description: format!("{source}: {recipient} (ssh-to-age)"),
                identity: Box::new(c.identity),
            },
            recipient,
        ))
    }

    /// sops-nix's `sops.age.sshKeyPaths`: an ed25519 host key converted by ssh-to-age. Returns
    /// the `age1…` recipient for the "Imported … as age key with fingerprint …" log line.
    pub fn add_ssh_host_key_as_age(&mut self, path: &Path) -> Result<String, KeyError> {
        let (source, bytes) = self.read_key_file(path)?;
        self.add_ssh_host_key_text_as_age(&source, bytes.expose())
    }

    /// [`Self::add_ssh_host_key_as_age`] on a key already read (`source` names it).
    pub(crate) fn add_ssh_host_key_text_as_age(
        &mut self,
        source: &str,
        bytes: &[u8],
    ) -> Result<String, KeyError> {
        let r = self.converted_identity(source, bytes);
        match self.record(r) {
            Ok((id, recipient)) => {
                self.age.push(id);
                Ok(recipient)
            }
            Err(e) => Err(e),
        }
    }

    /// The installer's `sshKeyPaths`: [`Keyring::add_ssh_host_key_as_age`], plus the key as a
    /// native age-ssh identity, so files that name the host's `ssh-ed25519` key directly
    /// (SOPS ≥ 3.10) decrypt too, as the `sops.hostPubKeys` build check counts them.
    pub fn add_ssh_host_key(&mut self, path: &Path) -> Result<String, KeyError> {
        let (source, bytes) = self.read_key_file(path)?;
        self.add_ssh_host_key_text(&source, bytes.expose())
    }

    /// [`Self::add_ssh_host_key`] on a key already read (`source` names it).
    pub(crate) fn add_ssh_host_key_text(
        &mut self,
        source: &str,
        bytes: &[u8],
    ) -> Result<String, KeyError> {
        let recipient = self.add_ssh_host_key_text_as_age(source, bytes)?;
        // The conversion succeeded, so this is an unencrypted ed25519 key.
        if let Ok(native) = age::ssh_identity(source, bytes, &self.callbacks) {
            self.age.push(native);
        }
        Ok(recipient)
    }

    /// Armored OpenPGP secret keys (`gpg --export-secret-keys -a`).
    #[cfg(feature = "pgp")]
    pub fn add_pgp_armored(&mut self, path: &Path) -> Result<usize, KeyError> {
        let (source, bytes) = self.read_key_file(path)?;
        let r = super::pgp::parse_armored(&source, bytes.expose());
        let keys = self.record(r)?;
        let n = keys.len();
        self.pgp.extend(keys);
        Ok(n)
    }

    /// sops-nix's `sops.gnupg.sshKeyPaths`: an RSA SSH key as the OpenPGP key sops-nix derives
    /// from it. Returns the fingerprint in uppercase hex, as `.sops.yaml` and the file's `fp`
    /// write it (sops-nix's "Imported … as GPG key with fingerprint …" line prints it lowercase).
    #[cfg(feature = "pgp")]
    pub fn add_rsa_ssh_key_as_pgp(&mut self, path: &Path) -> Result<String, KeyError> {
        let (source, bytes) = self.read_key_file(path)?;
        self.add_rsa_ssh_key_text_as_pgp(&source, bytes.expose())
    }

    /// [`Self::add_rsa_ssh_key_as_pgp`] on a key already read (`source` names it).
    #[cfg(feature = "pgp")]
    pub(crate) fn add_rsa_ssh_key_text_as_pgp(
        &mut self,
        source: &str,
        bytes: &[u8],
    ) -> Result<String, KeyError> {
        let r = super::pgp::from_ssh_rsa(source, bytes);
        let key = self.record(r)?;
        let fp = key.fingerprint.clone();
        self.pgp.push(key);
        Ok(fp)
    }

    /// sops-nix's `sops.gnupg.home`: decrypt pgp keys with `gpg --homedir <home>` (the binary
    /// from `SOPS_GPG_EXEC`, else `gpg`). A legacy `secring.gpg` there is also read in memory,
    /// as SOPS reads it with go-crypto first.
    pub fn set_gnupg_home(&mut self, home: &Path) {
        self.gpg = Some(Gpg::from_env(Some(home.to_path_buf())));
        #[cfg(feature = "pgp")]
        {
            let secring = home.join("secring.gpg");
            if let Ok(bytes) = std::fs::read(&secring) {
                let bytes = crate::secret::SecretBytes::new(bytes);
                let r = super::pgp::parse_binary(&secring.display().to_string(), bytes.expose());
                if let Ok(keys) = self.record(r) {
                    self.pgp.extend(keys);
                }
            }
        }
    }
}

/// What `nix-sops decrypt` loads: every SOPS source ([`Keyring::from_env`]), then the explicit
/// `--identity` files and `--ssh-key` keys.
pub fn from_sops_env(identities: &[PathBuf], ssh_keys: &[PathBuf]) -> Keyring {
    from_sops_env_inner(Keyring::new(), identities, ssh_keys)
}

/// [`from_sops_env`] for a person at a terminal: passphrase-encrypted identity files (`age -p`)
/// and protected SSH keys ask `prompt` for their passphrase while they load. Only the CLI uses
/// this; activation never prompts.
pub fn from_sops_env_prompting(
    identities: &[PathBuf],
    ssh_keys: &[PathBuf],
    prompt: impl Fn(&str) -> Option<SecretString> + Send + Sync + 'static,
) -> Keyring {
    let mut ring = Keyring::new();
    ring.set_passphrase_callback(prompt);
    from_sops_env_inner(ring, identities, ssh_keys)
}

fn from_sops_env_inner(mut ring: Keyring, identities: &[PathBuf], ssh_keys: &[PathBuf]) -> Keyring {
    ring.load_env(&ProcessEnv);
    for f in identities {
        let _ = ring.add_identity_file(f);
    }
    for k in ssh_keys {
        let _ = ring.add_ssh_key(k);
    }
    ring
}

//! The no-crypto floor for `scripts/bench-install`: reads a plaintext JSON object and writes each
//! value to its own file in a new generation directory, with the same owner, mode and syscalls
//! per file the installer uses (openat O_EXCL|O_NOFOLLOW, fchown, fchmod, write), then switches a
//! symlink and removes the previous directory. No decryption, no diff, no manifest.
//!
//!     bench_floor PLAINTEXT.json DIR UID GID

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (plain, dir, uid, gid) = (
        &a[1],
        Path::new(&a[2]),
        a[3].parse().unwrap(),
        a[4].parse().unwrap(),
    );
    let doc: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(plain).unwrap()).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let link = dir.join("current");
    let old = std::fs::read_link(&link).ok();
    let gen = dir.join(format!("g{}", std::process::id()));
    std::fs::create_dir(&gen).unwrap();
    for (k, v) in &doc {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o000)
            .custom_flags(libc::O_NOFOLLOW)
            .open(gen.join(k))
            .unwrap();
        std::os::unix::fs::fchown(&f, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(
            gen.join(k),
            std::os::unix::fs::PermissionsExt::from_mode(0o400),
        )
        .unwrap();
        f.write_all(v.as_str().unwrap().as_bytes()).unwrap();
    }
    let tmp = dir.join("current.new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&gen, &tmp).unwrap();
    std::fs::rename(&tmp, &link).unwrap();
    if let Some(old) = old {
        std::fs::remove_dir_all(old).unwrap();
    }
}

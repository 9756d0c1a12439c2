//! Decrypting a large document on two cores.
//!
//! The top level is cut into two runs of entries (a run may start after any entry: see
//! [`walk_top_items`]). The calling thread decrypts the first run, hashing it for the MAC as it
//! goes; a helper decrypts the second run in chunks and hands the MAC bytes of each finished
//! chunk over, which the calling thread hashes right behind (the MAC is one SHA-512 over every
//! value in order).
//! The YAML parser also cuts a large document in two, so that each thread decrypts mostly the
//! entries it has just parsed, still in its core's cache.

use super::{Decryptor, Mac, MacFeed};
use crate::secret::SecretBytes;
use crate::sops::metadata::CryptRule;
use crate::sops::tree::{weight, MapItem};
use crate::sops::walk::walk_top_items;
use crate::sops::{DataKey, DecryptError};
use std::sync::mpsc::{self, TryRecvError};

/// Below this many values (as [`weight`] counts them) one thread is faster than two: starting
/// the second costs more than the half it would take over.
const PARALLEL_MIN_WEIGHT: usize = 2048;

/// The helper hands its run over in about this many chunks.
const CHUNKS: usize = 32;

/// Decrypts one document's items in place and feeds them to `mac` in order.
pub(super) fn decrypt_branch(
    rule: &CryptRule,
    key: &DataKey,
    only_encrypted: bool,
    items: &mut [MapItem],
    mac: Mac,
) -> Result<Mac, DecryptError> {
    let split = split_point(items);
    let chunk = (items[split..].iter().map(weight).sum::<usize>() / CHUNKS).max(1);
    decrypt_split(rule, key, only_encrypted, items, mac, split, chunk)
}

/// [`decrypt_branch`] with the first run ending at `split` (which follows an entry, or is the
/// end) and the second handed over in chunks of at least `chunk` weight.
fn decrypt_split(
    rule: &CryptRule,
    key: &DataKey,
    only_encrypted: bool,
    items: &mut [MapItem],
    mac: Mac,
    split: usize,
    chunk: usize,
) -> Result<Mac, DecryptError> {
    let (first, second) = items.split_at_mut(split);
    let mut now = Decryptor::new(key, MacFeed::Now(Box::new(mac)));
    if second.is_empty() {
        walk_top_items(rule, first, &mut now)?;
        return Ok(now.into_mac());
    }
    // The MAC bytes of each finished chunk of the second run.
    let (done, finished) = mpsc::channel::<SecretBytes>();
    let (first_result, second_result) = crate::parallel::join(
        move || {
            walk_top_items(rule, first, &mut now)?;
            let mut mac = now.into_mac();
            // Spins rather than sleeps while the helper is behind: a sleeping core can take a
            // millisecond to wake on a VM, longer than the wait.
            let mut idle = 0u32;
            loop {
                match finished.try_recv() {
                    Ok(bytes) => {
                        mac.add_gathered(bytes.expose());
                        idle = 0;
                    }
                    Err(TryRecvError::Empty) => {
                        idle += 1;
                        if idle.is_multiple_of(64) {
                            std::thread::yield_now();
                        } else {
                            std::hint::spin_loop();
                        }
                    }
                    // Done, or stopped at an error that is reported below.
                    Err(TryRecvError::Disconnected) => return Ok(mac),
                }
            }
        },
        move || {
            let mut later = Decryptor::new(key, MacFeed::later(only_encrypted));
            let mut rest = second;
            while !rest.is_empty() {
                let end = run_end(rest, chunk).unwrap_or(rest.len());
                let (items, tail) = std::mem::take(&mut rest).split_at_mut(end);
                rest = tail;
                walk_top_items(rule, items, &mut later)?;
                if done.send(later.mac.take_gathered()).is_err() {
                    // The first run failed: its error is the one reported.
                    break;
                }
            }
            Ok::<(), DecryptError>(())
        },
    );
    // The first error in document order, as one thread would have met it.
    let mac = first_result?;
    second_result?;
    Ok(mac)
}

/// Where a large document's top level is cut for two threads (its length: not cut).
fn split_point(items: &[MapItem]) -> usize {
    let total: usize = items.iter().map(weight).sum();
    // Size first: asking for the cores reads cgroup files, a cost for a small file.
    if total < PARALLEL_MIN_WEIGHT || !crate::parallel::second_core() {
        return items.len();
    }
    let want = (total as f64 * crate::parallel::FIRST_SHARE) as usize;
    run_end(items, want).unwrap_or(items.len())
}

/// The first cut after `want` weight or more that follows an entry (so that a run can start
/// there); `None` when there is none before the end.
fn run_end(items: &[MapItem], want: usize) -> Option<usize> {
    let mut seen = 0;
    (1..items.len()).find(|&k| {
        seen += weight(&items[k - 1]);
        seen >= want && matches!(items[k - 1], MapItem::Entry(..))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{SecretBytes, SecretString};
    use crate::sops::encrypt::encrypt_tree;
    use crate::sops::tree::{ListItem, Tree, Value};
    use regex::Regex;

    /// A document with every kind of item, top-level comments between entries included.
    fn document(n: usize) -> Tree {
        let mut items = vec![MapItem::Comment(" head".into())];
        for i in 0..n {
            let v = match i % 9 {
                0 => Value::str(format!("secret {i} é\nsecond line")),
                1 => Value::Int(i as i64 - 20),
                2 => Value::Float(i as f64 / 4.0),
                3 => Value::Bool(i % 2 == 0),
                4 => Value::str(""),
                5 => Value::Map(vec![
                    MapItem::Comment(" inner".into()),
                    MapItem::Entry("x".into(), Value::str("in a map")),
                    MapItem::Entry("y_unencrypted".into(), Value::Int(3)),
                ]),
                6 => Value::List(vec![
                    ListItem::Comment(" in list".into()),
                    ListItem::Value(Value::str("a")),
                    ListItem::Value(Value::Null),
                    ListItem::Value(Value::Int(5)),
                ]),
                7 => Value::Null,
                _ => Value::Time("2024-01-02T03:04:05Z".into()),
            };
            let key = if i % 5 == 0 {
                format!("k{i}_unencrypted")
            } else {
                format!("k{i}")
            };
            items.push(MapItem::Entry(key, v));
            if i % 7 == 3 {
                items.push(MapItem::Comment(SecretString::new(format!(" note {i}"))));
            }
        }
        Tree {
            branches: vec![items],
        }
    }

    fn rules() -> Vec<CryptRule> {
        vec![
            CryptRule::default(),
            CryptRule::EncryptedRegex(Some(Regex::new("^k[0-9]*[13579]$").unwrap())),
            CryptRule::UnencryptedCommentRegex(Some(Regex::new("note").unwrap())),
            CryptRule::EncryptedCommentRegex(Some(Regex::new("note|inner").unwrap())),
        ]
    }

    fn hex(mac: Mac) -> String {
        mac.finish()
    }

    #[test]
    fn every_cut_and_chunk_gives_the_one_thread_result() {
        let key = DataKey::from_bytes(SecretBytes::new(vec![5; 32])).unwrap();
        for rule in rules() {
            for only_encrypted in [false, true] {
                let (enc, expected_mac) =
                    encrypt_tree(document(40), &rule, only_encrypted, &key).unwrap();
                let items = &enc.branches[0];
                let mut alone = items.clone();
                let mac = Mac::new(only_encrypted);
                let n = alone.len();
                let mac = decrypt_split(&rule, &key, only_encrypted, &mut alone, mac, n, 1);
                let alone_mac = hex(mac.unwrap());
                assert_eq!(alone_mac, expected_mac);
                assert_eq!(alone, document(40).branches[0]);
                for split in (1..n).filter(|&k| matches!(items[k - 1], MapItem::Entry(..))) {
                    for chunk in [1, 3, 100] {
                        let mut two = items.clone();
                        let mac = Mac::new(only_encrypted);
                        let mac =
                            decrypt_split(&rule, &key, only_encrypted, &mut two, mac, split, chunk)
                                .unwrap();
                        assert_eq!(hex(mac), alone_mac, "cut {split}, chunks of {chunk}");
                        assert_eq!(two, alone, "cut {split}, chunks of {chunk}");
                    }
                }
            }
        }
    }

    #[test]
    fn without_a_helper_thread_the_cut_document_still_decrypts() {
        let key = DataKey::from_bytes(SecretBytes::new(vec![4; 32])).unwrap();
        let rule = CryptRule::default();
        let (enc, expected_mac) = encrypt_tree(document(40), &rule, false, &key).unwrap();
        let mut items = enc.branches[0].clone();
        let split = run_end(&items, 20).unwrap();
        crate::parallel::ONE_THREAD.with(|f| f.set(true));
        let mac = decrypt_split(&rule, &key, false, &mut items, Mac::new(false), split, 2);
        crate::parallel::ONE_THREAD.with(|f| f.set(false));
        assert_eq!(hex(mac.unwrap()), expected_mac);
        assert_eq!(items, document(40).branches[0]);
    }

    #[test]
    fn the_first_error_in_document_order_is_reported() {
        let key = DataKey::from_bytes(SecretBytes::new(vec![6; 32])).unwrap();
        let rule = CryptRule::default();
        let (enc, _) = encrypt_tree(document(30), &rule, false, &key).unwrap();
        let n = enc.branches[0].len();
        // Spoils the value of top-level entry `k{i}` (a string, so encrypted).
        let spoil = |items: &mut [MapItem], name: &str| {
            for item in items.iter_mut() {
                if let MapItem::Entry(k, Value::Str(s)) = item {
                    if k == name {
                        *s = SecretString::new(s.expose().replacen("data:", "data:AAAA", 1));
                    }
                }
            }
        };
        let path = |r: Result<Mac, DecryptError>| match r {
            Err(DecryptError::Value { path, .. }) => path,
            other => panic!("expected a value error, got {:?}", other.map(hex)),
        };
        for split in [n / 3, n / 2, 2 * n / 3] {
            let split = run_end(&enc.branches[0], split).unwrap();
            let mut both = enc.branches[0].clone();
            spoil(&mut both, "k9");
            spoil(&mut both, "k27");
            let r = decrypt_split(&rule, &key, false, &mut both, Mac::new(false), split, 2);
            assert_eq!(path(r), r#"["k9"]"#);
            let mut late = enc.branches[0].clone();
            spoil(&mut late, "k27");
            let r = decrypt_split(&rule, &key, false, &mut late, Mac::new(false), split, 2);
            assert_eq!(path(r), r#"["k27"]"#);
        }
    }

    #[test]
    fn small_documents_stay_on_one_thread() {
        assert_eq!(split_point(&document(100).branches[0]), 100 + 1 + 14);
        let big = document(3000);
        let split = split_point(&big.branches[0]);
        if crate::parallel::second_core() {
            assert!(split < big.branches[0].len());
            assert!(matches!(big.branches[0][split - 1], MapItem::Entry(..)));
        }
    }
}

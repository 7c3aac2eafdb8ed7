//! MD5 of a short string (at most 55 bytes: one padded block), for fingerprint entries.
//!
//! `md-5`'s `Md5::digest` goes through `digest`'s buffered wrapper: the bytes are copied into
//! a block buffer, padded there, compressed, and the state is copied out; on a one-block
//! message that is ~100 instructions around the compression's ~660. Here the one block is
//! built in place (bytes, `0x80`, zeros, the bit length) and compressed by RFC 1321's 64
//! steps, with the round functions `F` and `G` in their three-operation forms
//! (`d ^ (b & (c ^ d))`, `c ^ (d & (b ^ c))`) where `md-5`'s `soft` compression uses four.
//! Longer strings take `group_hash` (tests check the two agree at every length up to 55 and
//! past it).

/// The longest string that fits one block with its padding (`0x80` and the 8-byte length).
pub(super) const MAX_ONE_BLOCK: usize = 55;

/// The MD5 of `bytes` as [`dataflows::model::group_hash`] returns it (the digest's 16 bytes
/// read big-endian), or `None` when `bytes` is longer than [`MAX_ONE_BLOCK`].
#[inline]
pub(super) fn one_block_md5(bytes: &[u8]) -> Option<u128> {
    if bytes.len() > MAX_ONE_BLOCK {
        return None;
    }
    let mut block = [0u8; 64];
    block[..bytes.len()].copy_from_slice(bytes);
    block[bytes.len()] = 0x80;
    block[56..].copy_from_slice(&((bytes.len() as u64) * 8).to_le_bytes());
    let mut w = [0u32; 16];
    for (word, chunk) in w.iter_mut().zip(block.chunks_exact(4)) {
        let mut four = [0u8; 4];
        four.copy_from_slice(chunk);
        *word = u32::from_le_bytes(four);
    }
    let state = compress(&w);
    let mut digest = [0u8; 16];
    for (out, word) in digest.chunks_exact_mut(4).zip(state) {
        out.copy_from_slice(&word.to_le_bytes());
    }
    Some(u128::from_be_bytes(digest))
}

/// RFC 1321's compression of one block (`w`: its 16 little-endian words) from the initial
/// state.
#[inline(always)]
fn compress(w: &[u32; 16]) -> [u32; 4] {
    const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let [mut a, mut b, mut c, mut d] = INIT;
    macro_rules! round_fn {
        (f, $b:expr, $c:expr, $d:expr) => {
            $d ^ ($b & ($c ^ $d))
        };
        (g, $b:expr, $c:expr, $d:expr) => {
            $c ^ ($d & ($b ^ $c))
        };
        (h, $b:expr, $c:expr, $d:expr) => {
            $b ^ $c ^ $d
        };
        (i, $b:expr, $c:expr, $d:expr) => {
            $c ^ ($b | !$d)
        };
    }
    macro_rules! step {
        ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $m:expr, $k:expr, $s:expr) => {
            $a = $b.wrapping_add(
                $a.wrapping_add(round_fn!($f, $b, $c, $d))
                    .wrapping_add($m)
                    .wrapping_add($k)
                    .rotate_left($s),
            );
        };
    }
    step!(f, a, b, c, d, w[0], 0xd76aa478, 7);
    step!(f, d, a, b, c, w[1], 0xe8c7b756, 12);
    step!(f, c, d, a, b, w[2], 0x242070db, 17);
    step!(f, b, c, d, a, w[3], 0xc1bdceee, 22);
    step!(f, a, b, c, d, w[4], 0xf57c0faf, 7);
    step!(f, d, a, b, c, w[5], 0x4787c62a, 12);
    step!(f, c, d, a, b, w[6], 0xa8304613, 17);
    step!(f, b, c, d, a, w[7], 0xfd469501, 22);
    step!(f, a, b, c, d, w[8], 0x698098d8, 7);
    step!(f, d, a, b, c, w[9], 0x8b44f7af, 12);
    step!(f, c, d, a, b, w[10], 0xffff5bb1, 17);
    step!(f, b, c, d, a, w[11], 0x895cd7be, 22);
    step!(f, a, b, c, d, w[12], 0x6b901122, 7);
    step!(f, d, a, b, c, w[13], 0xfd987193, 12);
    step!(f, c, d, a, b, w[14], 0xa679438e, 17);
    step!(f, b, c, d, a, w[15], 0x49b40821, 22);
    step!(g, a, b, c, d, w[1], 0xf61e2562, 5);
    step!(g, d, a, b, c, w[6], 0xc040b340, 9);
    step!(g, c, d, a, b, w[11], 0x265e5a51, 14);
    step!(g, b, c, d, a, w[0], 0xe9b6c7aa, 20);
    step!(g, a, b, c, d, w[5], 0xd62f105d, 5);
    step!(g, d, a, b, c, w[10], 0x02441453, 9);
    step!(g, c, d, a, b, w[15], 0xd8a1e681, 14);
    step!(g, b, c, d, a, w[4], 0xe7d3fbc8, 20);
    step!(g, a, b, c, d, w[9], 0x21e1cde6, 5);
    step!(g, d, a, b, c, w[14], 0xc33707d6, 9);
    step!(g, c, d, a, b, w[3], 0xf4d50d87, 14);
    step!(g, b, c, d, a, w[8], 0x455a14ed, 20);
    step!(g, a, b, c, d, w[13], 0xa9e3e905, 5);
    step!(g, d, a, b, c, w[2], 0xfcefa3f8, 9);
    step!(g, c, d, a, b, w[7], 0x676f02d9, 14);
    step!(g, b, c, d, a, w[12], 0x8d2a4c8a, 20);
    step!(h, a, b, c, d, w[5], 0xfffa3942, 4);
    step!(h, d, a, b, c, w[8], 0x8771f681, 11);
    step!(h, c, d, a, b, w[11], 0x6d9d6122, 16);
    step!(h, b, c, d, a, w[14], 0xfde5380c, 23);
    step!(h, a, b, c, d, w[1], 0xa4beea44, 4);
    step!(h, d, a, b, c, w[4], 0x4bdecfa9, 11);
    step!(h, c, d, a, b, w[7], 0xf6bb4b60, 16);
    step!(h, b, c, d, a, w[10], 0xbebfbc70, 23);
    step!(h, a, b, c, d, w[13], 0x289b7ec6, 4);
    step!(h, d, a, b, c, w[0], 0xeaa127fa, 11);
    step!(h, c, d, a, b, w[3], 0xd4ef3085, 16);
    step!(h, b, c, d, a, w[6], 0x04881d05, 23);
    step!(h, a, b, c, d, w[9], 0xd9d4d039, 4);
    step!(h, d, a, b, c, w[12], 0xe6db99e5, 11);
    step!(h, c, d, a, b, w[15], 0x1fa27cf8, 16);
    step!(h, b, c, d, a, w[2], 0xc4ac5665, 23);
    step!(i, a, b, c, d, w[0], 0xf4292244, 6);
    step!(i, d, a, b, c, w[7], 0x432aff97, 10);
    step!(i, c, d, a, b, w[14], 0xab9423a7, 15);
    step!(i, b, c, d, a, w[5], 0xfc93a039, 21);
    step!(i, a, b, c, d, w[12], 0x655b59c3, 6);
    step!(i, d, a, b, c, w[3], 0x8f0ccc92, 10);
    step!(i, c, d, a, b, w[10], 0xffeff47d, 15);
    step!(i, b, c, d, a, w[1], 0x85845dd1, 21);
    step!(i, a, b, c, d, w[8], 0x6fa87e4f, 6);
    step!(i, d, a, b, c, w[15], 0xfe2ce6e0, 10);
    step!(i, c, d, a, b, w[6], 0xa3014314, 15);
    step!(i, b, c, d, a, w[13], 0x4e0811a1, 21);
    step!(i, a, b, c, d, w[4], 0xf7537e82, 6);
    step!(i, d, a, b, c, w[11], 0xbd3af235, 10);
    step!(i, c, d, a, b, w[2], 0x2ad7d2bb, 15);
    step!(i, b, c, d, a, w[9], 0xeb86d391, 21);
    [
        a.wrapping_add(INIT[0]),
        b.wrapping_add(INIT[1]),
        c.wrapping_add(INIT[2]),
        d.wrapping_add(INIT[3]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataflows::model::group_hash;

    /// `group_hash` of bytes that are not UTF-8 cannot be asked for; the decoder only hashes
    /// `str`s, so the comparison is over strings.
    fn check(text: &str) {
        let expected = group_hash(text);
        match one_block_md5(text.as_bytes()) {
            Some(hash) => assert_eq!(hash, expected, "{text:?}"),
            None => assert!(text.len() > MAX_ONE_BLOCK, "{text:?} declined"),
        }
    }

    #[test]
    fn agrees_with_md5_at_every_length() {
        // Every length from 0 to past one block, with several fillers (so every byte of the
        // block, the padding byte's position and the length field are exercised).
        for len in 0..=130 {
            for filler in ["a", "\u{0}", "~", "Z9-", "é", "\u{7f}"] {
                let text: String = filler.chars().cycle().take(len).collect();
                check(&text);
            }
            let counting: String = (0..len).map(|i| char::from(b' ' + (i * 7 % 95) as u8)).collect();
            check(&counting);
        }
        // Fingerprint-like strings, and every ASCII byte at every position of a 55-byte one.
        for i in 0..5_000u64 {
            check(&format!("1-1006-{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
            check(&format!("detector-{i:x}"));
        }
        for position in 0..MAX_ONE_BLOCK {
            for byte in 0u8..=127 {
                let mut bytes = vec![b'x'; MAX_ONE_BLOCK];
                bytes[position] = byte;
                let text = String::from_utf8(bytes).unwrap();
                check(&text);
                check(&text[..position]);
            }
        }
    }

    #[test]
    fn known_digests() {
        // RFC 1321's test suite.
        let cases = [
            ("", 0xd41d8cd98f00b204e9800998ecf8427e_u128),
            ("a", 0x0cc175b9c0f1b6a831c399e269772661),
            ("abc", 0x900150983cd24fb0d6963f7d28e17f72),
            ("message digest", 0xf96b697d7cb7938d525a2f31aaf161d0),
            ("abcdefghijklmnopqrstuvwxyz", 0xc3fcd3d76192e4007dfb496cca67e13b),
        ];
        for (text, digest) in cases {
            assert_eq!(one_block_md5(text.as_bytes()), Some(digest), "{text:?}");
        }
        assert_eq!(one_block_md5(&[b'1'; 56]), None);
    }
}

//! Target `file`: reading a `--run` file (`loader/file.rs`) as the loader
//! does (`read_head` of 64 bytes, then `read_rest`), from a reader that
//! returns short reads, EINTR and errors, for a file whose size when
//! checked may differ from what it holds now (it grew or shrank).
//!
//! Input: `delta i8 | 8 chunk bytes | the file`; the checked size is the
//! file's length + delta; chunk byte 0 is EINTR, 255 an I/O error, else
//! the most bytes that read returns.

use std::io::{self, Read};

use microvmm::loader::file::{self, FileError};

/// The file, served as the chunks say; counts what it gave.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    chunks: [u8; 8],
    call: usize,
    failed: bool,
}

impl Read for Reader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let c = self.chunks[self.call % 8];
        self.call += 1;
        match c {
            0 if self.call < 64 => Err(io::Error::from(io::ErrorKind::Interrupted)),
            255 => {
                self.failed = true;
                Err(io::Error::other("injected"))
            }
            _ => {
                let n = buf
                    .len()
                    .min(usize::from(c.max(1)))
                    .min(self.data.len() - self.at);
                buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
                self.at += n;
                Ok(n)
            }
        }
    }
}

/// The target.
pub fn file(data: &[u8]) {
    let [delta, c0, c1, c2, c3, c4, c5, c6, c7, bytes @ ..] = data else {
        return;
    };
    let size = (bytes.len() as i64 + i64::from(*delta as i8)).max(0) as u64;
    let mut r = Reader {
        data: bytes,
        at: 0,
        chunks: [*c0, *c1, *c2, *c3, *c4, *c5, *c6, *c7],
        call: 0,
        failed: false,
    };
    let result = file::read_head(&mut r, size, 64).and_then(|mut head| {
        assert!(head.len() as u64 <= size.min(64), "read_head took too much");
        assert_eq!(&head[..], &bytes[..head.len()], "read_head's bytes");
        file::read_rest(&mut r, &mut head, size).map(|()| head)
    });
    // Never more than the checked size plus the one byte that tells.
    assert!(
        r.at as u64 <= size + 1,
        "read {} of a {size}-byte file",
        r.at
    );
    match result {
        Ok(all) => {
            assert_eq!(size, bytes.len() as u64, "a changed file was accepted");
            assert_eq!(all, bytes, "the bytes read are not the file's");
        }
        Err(FileError::Read(_)) => assert!(r.failed, "a read error out of nowhere"),
        Err(FileError::Changed { was }) => {
            assert_eq!(was, size);
            assert!(
                size != bytes.len() as u64 || r.failed,
                "an unchanged file refused"
            );
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

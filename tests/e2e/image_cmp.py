#!/usr/bin/env python3
"""image_cmp.py — compare memory images by physical address (LiME, ELF core, raw).

  image_cmp.py same IMAGE REFERENCE
      every range of IMAGE holds the bytes REFERENCE has at the same physical addresses
      (range by range; prints each range and where the first difference is)
  image_cmp.py pages IMAGE REFERENCE START END
      of IMAGE's pages in physical [START, END): how many equal REFERENCE's; prints
      "equal N of M" and exits 0 when all are equal
  image_cmp.py raw LIME RAW
      write the raw image of LIME (physical address = file offset; holes stay sparse)
"""
import struct
import sys

CHUNK = 1 << 22


class Image:
    def __init__(self, path):
        self.f = open(path, "rb")
        head = self.f.read(64)
        self.segs = []  # (phys start, size, file offset)
        if head[:4] == b"\x7fELF":
            phoff, = struct.unpack_from("<Q", head, 0x20)
            phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
            for i in range(phnum):
                self.f.seek(phoff + i * phentsize)
                t, _, off, _, paddr, filesz, _, _ = struct.unpack("<IIQQQQQQ", self.f.read(56))
                if t == 1 and filesz:
                    self.segs.append((paddr, filesz, off))
        elif head[:4] == b"EMiL":
            pos = 0
            while True:
                self.f.seek(pos)
                h = self.f.read(32)
                if len(h) < 32:
                    break
                _, _, s, e = struct.unpack_from("<IIQQ", h)
                self.segs.append((s, e + 1 - s, pos + 32))
                pos += 32 + e + 1 - s
        else:
            self.f.seek(0, 2)
            self.segs.append((0, self.f.tell(), 0))

    def read(self, addr, n):
        for s, size, off in self.segs:
            if s <= addr and addr + n <= s + size:
                self.f.seek(off + addr - s)
                return self.f.read(n)
        return None


def same(a, b):
    ok = True
    for s, size, _ in a.segs:
        at, bad = s, None
        while at < s + size:
            n = min(CHUNK, s + size - at)
            x, y = a.read(at, n), b.read(at, n)
            if y is None or x != y:
                bad = at if y is None else at + next(i for i in range(n) if x[i] != y[i])
                break
            at += n
        print("# range 0x%x+0x%x: %s" % (s, size, "equal" if bad is None else
                                          "differs at 0x%x" % bad))
        ok = ok and bad is None
    return ok


def pages(a, b, start, end):
    eq = tot = 0
    for s, size, _ in a.segs:
        lo, hi = max(s, start), min(s + size, end)
        for at in range(lo - lo % 4096, hi, 4096):
            x, y = a.read(at, 4096), b.read(at, 4096)
            if x is None:
                continue
            tot += 1
            eq += x == y
    print("# equal %d of %d pages in [0x%x, 0x%x)" % (eq, tot, start, end))
    return tot > 0 and eq == tot


def main():
    cmd = sys.argv[1]
    if cmd == "same":
        sys.exit(0 if same(Image(sys.argv[2]), Image(sys.argv[3])) else 1)
    if cmd == "pages":
        sys.exit(0 if pages(Image(sys.argv[2]), Image(sys.argv[3]), int(sys.argv[4], 0),
                            int(sys.argv[5], 0)) else 1)
    if cmd == "raw":
        img = Image(sys.argv[2])
        with open(sys.argv[3], "wb") as out:
            end = 0
            for s, size, _ in img.segs:
                for at in range(s, s + size, CHUNK):
                    out.seek(at)
                    out.write(img.read(at, min(CHUNK, s + size - at)))
                end = max(end, s + size)
            out.truncate(end)
        return
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

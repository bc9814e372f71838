#!/usr/bin/env python3
"""isf_check.py — test an ISF symbol table the way Volatility 3 would use it.

Volatility 3 is not packaged for Debian 12 (and this machine has no PyPI), so this is a
reader of its own, written from the published ISF 6.2.0 schema and from how Volatility's
Linux automagic finds a kernel (the steps are described below); nothing of Volatility's
code is in it.

  isf_check.py schema ISF SCHEMA
      validate ISF (.json or .json.xz) against the JSON schema
  isf_check.py offsets ISF PROFILE
      every "off.TYPE.PATH=OFFSET,SIZE" line of `sevmon profile` output must be what the
      ISF says (anonymous members lifted into their parent, as 6.2.0 readers do)
  isf_check.py pslist ISF IMAGE
      print "pid tgid ppid comm" of each task from a LiME image using only the ISF:
        1. find the banner: the bytes of symbols.linux_banner.constant_data in the image;
        2. find init_task physically: a "swapper/0" (or "swapper\\0\\0") comm followed by
           NULs, at task_struct.comm's offset into a task with pid 0; the physical shift
           is that address minus the init_task symbol, the virtual (KASLR) shift is
           init_task.files minus the init_files symbol; both page aligned;
        3. the page tables: init_top_pgt + physical shift; 5 levels when the kernel says
           so (__pgtable_l5_enabled), else 4;
        4. check the translation: linux_banner + virtual shift reads the banner;
        5. walk init_task.tasks.
"""
import base64
import json
import lzma
import re
import struct
import sys


def load(path):
    opener = lzma.open if path.endswith(".xz") else open
    with opener(path, "rt") as f:
        return json.load(f)


# ---- types -------------------------------------------------------------------------------

class Isf:
    def __init__(self, j):
        self.j = j

    def fields(self, tname):
        """Members of a user type with anonymous members lifted: name -> (offset, type)."""
        out = {}
        def walk(fields, base):
            for name, f in fields.items():
                off = base + f["offset"]
                if f.get("anonymous"):
                    walk(self.j["user_types"][f["type"]["name"]]["fields"], off)
                else:
                    out[name] = (off, f["type"])
        walk(self.j["user_types"][tname]["fields"], 0)
        return out

    def size(self, t):
        k = t["kind"]
        if k == "base":
            return self.j["base_types"][t["name"]]["size"]
        if k == "pointer":
            return self.j["base_types"]["pointer"]["size"]
        if k == "array":
            return t["count"] * self.size(t["subtype"])
        if k in ("struct", "union"):
            return self.j["user_types"][t["name"]]["size"]
        if k == "enum":
            return self.j["enums"][t["name"]]["size"]
        if k == "bitfield":
            return self.size(t["type"])
        raise ValueError(k)

    def member(self, tname, path):
        """(offset, type) of a dotted member path inside tname."""
        off, t = 0, {"kind": "struct", "name": tname}
        for part in path.split("."):
            o, t = self.fields(t["name"])[part]
            off += o
        return off, t

    def sym(self, name):
        return self.j["symbols"][name]["address"]


# ---- memory ------------------------------------------------------------------------------

class Lime:
    def __init__(self, path):
        self.f = open(path, "rb")
        self.ranges = []  # (start, end, file offset)
        pos = 0
        while True:
            self.f.seek(pos)
            h = self.f.read(32)
            if len(h) < 32:
                break
            magic, ver, s, e = struct.unpack_from("<IIQQ", h)
            if magic != 0x4C694D45 or ver != 1 or e < s:
                raise ValueError("not a LiME file at %d" % pos)
            self.ranges.append((s, e + 1, pos + 32))
            pos += 32 + e + 1 - s

    def read(self, addr, n):
        for s, e, off in self.ranges:
            if s <= addr and addr + n <= e:
                self.f.seek(off + addr - s)
                return self.f.read(n)
        raise KeyError(hex(addr))

    def chunks(self, size=1 << 24, overlap=64):
        for s, e, off in self.ranges:
            at = s
            while at < e:
                n = min(size + overlap, e - at)
                self.f.seek(off + at - s)
                yield at, self.f.read(n)
                at += size


MASK64 = (1 << 64) - 1


class Paging:
    def __init__(self, mem, root, levels):
        self.mem, self.root, self.levels = mem, root, levels

    def translate(self, va):
        table = self.root
        shifts = [48, 39, 30, 21, 12][5 - self.levels:]
        for i, sh in enumerate(shifts):
            e = struct.unpack("<Q", self.mem.read(table + ((va >> sh) & 511) * 8, 8))[0]
            if not e & 1:
                raise KeyError("not present: %x" % va)
            addr = e & 0x000FFFFFFFFFF000
            if sh in (30, 21) and e & 0x80:  # 1 GiB / 2 MiB page
                return (addr & ~((1 << sh) - 1)) | (va & ((1 << sh) - 1))
            table = addr
        return table | (va & 0xFFF)

    def read(self, va, n):
        out = b""
        while n:
            take = min(n, 0x1000 - (va & 0xFFF))
            out += self.mem.read(self.translate(va), take)
            va, n = va + take, n - take
        return out


def pslist(isf, mem):
    banner = base64.b64decode(isf.j["symbols"]["linux_banner"]["constant_data"])
    if not any(banner in data for _, data in mem.chunks(overlap=len(banner))):
        raise SystemExit("the ISF's banner is not in the image")
    comm_off, _ = isf.member("task_struct", "comm")
    pid_off, _ = isf.member("task_struct", "pid")
    files_off, _ = isf.member("task_struct", "files")
    sig = re.compile(rb"swapper(/0|\x00\x00)\x00\x00\x00\x00\x00\x00")
    shifts = None
    for base, data in mem.chunks():
        for m in sig.finditer(data):
            task = base + m.start() - comm_off
            try:
                if struct.unpack("<i", mem.read(task + pid_off, 4))[0] != 0:
                    continue
                files = struct.unpack("<Q", mem.read(task + files_off, 8))[0]
            except KeyError:
                continue
            vshift = (files - isf.sym("init_files")) & MASK64
            pshift = (task - isf.sym("init_task")) & MASK64
            if vshift & 0xFFF or pshift & 0xFFF:
                continue
            shifts = (pshift, vshift)
            break
        if shifts:
            break
    if not shifts:
        raise SystemExit("no init_task in the image")
    pshift, vshift = shifts
    root = (isf.sym("init_top_pgt") + pshift) & MASK64
    levels = 4
    if "__pgtable_l5_enabled" in isf.j["symbols"]:
        a = (isf.sym("__pgtable_l5_enabled") + pshift) & MASK64
        levels = 5 if struct.unpack("<I", mem.read(a, 4))[0] else 4
    vm = Paging(mem, root, levels)
    vb = (isf.sym("linux_banner") + vshift) & MASK64
    if vm.read(vb, len(banner)) != banner:
        raise SystemExit("linux_banner does not translate to the banner")
    tasks_off, _ = isf.member("task_struct", "tasks")
    tgid_off, _ = isf.member("task_struct", "tgid")
    rp_off, _ = isf.member("task_struct", "real_parent")
    u64 = lambda va: struct.unpack("<Q", vm.read(va, 8))[0]
    i32 = lambda va: struct.unpack("<i", vm.read(va, 4))[0]
    head = (isf.sym("init_task") + vshift + tasks_off) & MASK64
    out, link, seen = [], u64(head), set()
    while link != head and link not in seen and len(out) < 65536:
        seen.add(link)
        t = link - tasks_off
        comm = vm.read(t + comm_off, 16).split(b"\0", 1)[0].decode("latin-1")
        parent = u64(t + rp_off)
        out.append((i32(t + pid_off), i32(t + tgid_off), i32(parent + tgid_off), comm))
        link = u64(link)
    print("# levels %d, physical shift 0x%x, virtual shift 0x%x" % (levels, pshift, vshift),
          file=sys.stderr)
    return out


def main():
    cmd = sys.argv[1]
    if cmd == "schema":
        import jsonschema
        isf, schema = load(sys.argv[2]), json.load(open(sys.argv[3]))
        jsonschema.validate(isf, schema)
        print("# valid: %d base types, %d user types, %d enums, %d symbols" % (
            len(isf["base_types"]), len(isf["user_types"]), len(isf["enums"]),
            len(isf["symbols"])))
    elif cmd == "offsets":
        isf = Isf(load(sys.argv[2]))
        bad, n = [], 0
        for line in open(sys.argv[3]):
            m = re.match(r"off\.(\w+)\.([\w.]+)=(\d+),(\d+)$", line.strip())
            if not m or m.group(2) in ("text_base", "text_size"):
                continue  # module text: found through the memory-layout shape, not one path
            n += 1
            t, path, off, size = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
            try:
                o, ty = isf.member(t, path)
                got = (o, isf.size(ty))
            except KeyError as e:
                got = ("missing", str(e))
            if got != (off, size):
                bad.append("%s.%s: profile %d,%d isf %s" % (t, path, off, size, got))
        for b in bad:
            print("# " + b)
        print("# %d offsets compared" % n)
        sys.exit(1 if bad or n < 10 else 0)
    elif cmd == "pslist":
        for p in pslist(Isf(load(sys.argv[2])), Lime(sys.argv[3])):
            print("%d %d %d %s" % p)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

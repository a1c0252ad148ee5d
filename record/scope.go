package record

import (
	"hash/maphash"
	"strconv"
	"strings"
)

// Lua limits what one function may hold, and a recording can be as long as a
// session. The writer stays within the limits like this:
//
//   - Variables are declared once and assigned again when their descriptor
//     number comes back, so locals grow with the number of distinct
//     descriptors, not of sockets.
//   - The main chunk declares at most maxLocals variables as locals (fd3);
//     later ones live in the tables fd, addr and from (fd[1003]).
//   - A function holds at most 2^18 constants, and gopher-lua looks each one
//     up by a linear scan when it compiles: 100,000 different payloads in
//     one function took 45 s to load. After maxConsts distinct constants
//     the writer starts a new part, an anonymous function called at once,
//     in which the main chunk's locals are upvalues. At 64 (a part of about
//     120 lines of distinct payloads) that scan is a tenth of a long
//     recording's load; it was half of it at 256.
const (
	// maxLocals keeps the main chunk's locals, the four table variables
	// included, under 60: the upvalue limit of a function in PUC Lua 5.1
	// (gopher-lua keeps the count in a byte), which a part reaches when it
	// uses every one of them. The limit of 200 locals is far above.
	maxLocals = 50
	// maxConsts is the number of distinct constants after which the next
	// statement starts a new part.
	maxConsts = 64
)

// partEnd ends a part.
const partEnd = "end)()\n"

// target is a variable that an assignment binds: "fd3" for the descriptor a
// socket or accept returned, "addr3" for the address getsockname of fd3
// returned, "from3" for the sender of a datagram fd3 received, and "data",
// which holds the datagram until it is checked.
type target struct {
	family string // "fd", "addr", "from" or "data"
	n      int64  // the recorded descriptor number
	g      int    // which descriptor of that number, after a spawn (tasks.go); else 0
}

// target returns the target of family for descriptor fd.
func (w *Writer) target(family string, fd int64) target {
	t := target{family: family, n: fd}
	if w.tasks {
		t.g = w.gen[fd]
	}
	return t
}

func (t target) name() string {
	if t.family == "data" {
		return "data"
	}
	name := t.family + strconv.FormatInt(t.n, 10)
	if t.g > 1 {
		name += "." + strconv.Itoa(t.g)
	}
	return name
}

// assign returns the left-hand side of a statement that binds ts
// ("local fd3 = ", "fd3 = ", "fd[3] = "), and the expression that names
// each of them from then on.
func (w *Writer) assign(ts ...target) (lhs string, refs []string) {
	fresh := false
	for _, t := range ts {
		if !w.declared[t.name()] {
			fresh = true
		}
	}
	refs = make([]string, len(ts))
	if fresh && !w.tables && w.slots+len(ts) <= maxLocals {
		for i, t := range ts {
			refs[i] = t.name()
			w.declared[refs[i]] = true
		}
		w.slots += len(ts)
		w.barrier = true // a local's scope would end with a loop
		return "local " + strings.Join(refs, ", ") + " = ", refs
	}
	if fresh {
		w.useTables()
	}
	for i, t := range ts {
		if w.declared[t.name()] {
			refs[i] = t.name()
		} else {
			refs[i] = t.family + "[" + w.genKey(t.n, t.g) + "]"
			w.touched(refs[i])
		}
	}
	return strings.Join(refs, ", ") + " = ", refs
}

// useTables declares, once, the tables that hold the variables beyond
// maxLocals. It runs in the main chunk: parts start only after it.
func (w *Writer) useTables() {
	if w.tables {
		return
	}
	w.tables = true
	w.barrier = true
	w.slots += 4
	w.declared["data"] = true
	w.buf.WriteString("-- Lua limits how many locals a function may have: new variables live in tables.\n")
	w.buf.WriteString("local fd, addr, from, data = {}, {}, {}\n")
}

// newPart ends the current part, if any, and starts the next one; with
// tasks, another function of the same task.
func (w *Writer) newPart() {
	if w.tasks {
		w.openSeg(w.seg)
		return
	}
	w.useTables()
	if w.part > 0 {
		w.buf.WriteString(partEnd)
	}
	w.part++
	w.barrier = true // a loop lies inside one part
	w.buf.WriteString(";(function() -- part " + strconv.Itoa(w.part+1) +
		": long recordings are cut into functions, each ending with \"end)()\"\n")
	clear(w.consts)
}

// konst notes a constant the statement being written uses.
func (w *Writer) konst(kind byte, s string) {
	var h maphash.Hash
	h.SetSeed(w.seed)
	h.WriteByte(kind)
	h.WriteString(s)
	w.consts[h.Sum64()] = struct{}{}
}

// setAddr records that the variable ref holds addr, an address the kernel
// chose, so that later arguments naming addr use ref.
func (w *Writer) setAddr(ref, addr string) {
	if old, ok := w.held[ref]; ok {
		if w.addrs[old] == ref {
			delete(w.addrs, old)
		}
		if _, port, ok := splitInet(old); ok && w.ports[port] == ref {
			delete(w.ports, port)
		}
	}
	w.held[ref] = addr
	w.addrs[addr] = ref
	if _, port, ok := splitInet(addr); ok {
		w.ports[port] = ref
	}
}

// addr returns addr as a Lua expression: the variable that holds it when the
// kernel chose it, the host with that variable's port when only the port
// matches (a server bound to 0.0.0.0:0, a client connecting to
// 127.0.0.1:PORT), else a string literal.
func (w *Writer) addr(addr string) string {
	if ref, ok := w.addrs[addr]; ok {
		w.touched(ref)
		return ref
	}
	if host, port, ok := splitInet(addr); ok {
		if ref, ok := w.ports[port]; ok {
			w.touched(ref)
			return w.str(host+":") + " .. " + ref + ":" + w.global("match") + "(" + w.str("%d+$") + ")"
		}
	}
	return w.str(addr)
}

// splitInet splits an inet address, "host:port" or "[v6addr]:port", into
// its host and port; ok is false for anything else (a path, "@name").
func splitInet(addr string) (host string, port int, ok bool) {
	if addr == "" || addr[0] == '/' || addr[0] == '@' || strings.HasPrefix(addr, "unix:") {
		return "", 0, false
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, false
	}
	host = addr[:i]
	if strings.Contains(host, ":") && !(strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]")) {
		return "", 0, false
	}
	digits := addr[i+1:]
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return "", 0, false
	}
	port, err := strconv.Atoi(digits)
	if err != nil || port > 65535 {
		return "", 0, false
	}
	return host, port, true
}

// chosen reports whether binding to addr lets the kernel choose the
// address: port 0 for inet, an empty name for AF_UNIX (autobind).
func chosen(addr string) bool {
	if _, port, ok := splitInet(addr); ok {
		return port == 0
	}
	return addr == "" || addr == "@"
}

package luaapi

// Drawing a file: a recording, read without running it, or a pcap file.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"sockshell/ladder"
	"sockshell/record"
	"sockshell/wire"
)

// readLadder reads a recording or a pcap file into a diagram.
func readLadder(file string) (*ladder.Diagram, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(file)
	if strings.HasSuffix(strings.ToLower(file), ".pcap") {
		ents, err := readPcap(src)
		if err != nil {
			return nil, err
		}
		d := diagram(base, ents, 0, true)
		if len(d.Events) == 0 {
			return nil, errors.New("no TCP or UDP packets in it")
		}
		return d, nil
	}
	ents, err := readRecording(string(src), file)
	if err != nil {
		return nil, err
	}
	d := diagram(base, ents, 0, true)
	if len(d.Events) == 0 {
		return nil, errors.New("no calls in it")
	}
	d.Notes = append(d.Notes, "a recording: calls only; its times are those of its at() lines")
	return d, nil
}

// errPcap is a file that is not a pcap file ladder reads.
var errPcap = errors.New("not a pcap file of Ethernet frames (the format --pcap writes)")

// readPcap reads the packets of a pcap file: microsecond or nanosecond,
// either byte order, Ethernet frames (as --pcap and tcpdump -i lo write).
func readPcap(b []byte) ([]ladEntry, error) {
	if len(b) < 24 {
		return nil, errPcap
	}
	var bo binary.ByteOrder = binary.LittleEndian
	magic := bo.Uint32(b)
	if magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1 {
		bo = binary.BigEndian
		magic = bo.Uint32(b)
	}
	nano := magic == 0xa1b23c4d
	if !nano && magic != 0xa1b2c3d4 || bo.Uint32(b[20:]) != 1 {
		return nil, errPcap
	}
	d := wire.NewDecoder()
	var ents []ladEntry
	var start time.Time
	for off := 24; off+16 <= len(b); {
		h := b[off : off+16]
		n := int(bo.Uint32(h[8:]))
		if off+16+n > len(b) {
			break // cut short: the file of a session still writing it
		}
		frac := time.Duration(bo.Uint32(h[4:]))
		if !nano {
			frac *= time.Microsecond
		}
		t := time.Unix(int64(bo.Uint32(h[0:])), int64(frac))
		p, ok := d.Decode(wire.Frame{Time: t, Data: b[off+16 : off+16+n], Len: int(bo.Uint32(h[12:]))})
		off += 16 + n
		if !ok {
			continue
		}
		if start.IsZero() {
			start = t
		}
		ents = append(ents, packetEntry(p, t.Sub(start)))
	}
	return ents, nil
}

// readRecording reads a recording's calls by running it in a Lua state of
// its own whose functions only note what the session did (as mock reads
// one), task functions in the order they were recorded. Descriptors are
// numbered as the kernel would (the lowest free one); a local address is
// that of a bind, or the one a getsockname line's comment or an accept's
// "-- peer" comment gives.
func readRecording(src, file string) ([]ladEntry, error) {
	src = record.LuaSource(record.InOrder(src))
	lines := strings.Split(src, "\n")
	comment := func(L *lua.LState) string {
		w := L.Where(1)
		parts := strings.Split(strings.TrimSuffix(w, ":"), ":")
		n, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil || n < 1 || n > len(lines) {
			return ""
		}
		if _, c, ok := strings.Cut(lines[n-1], "-- "); ok {
			return strings.TrimSpace(c)
		}
		return ""
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer L.Close()
	var ents []ladEntry
	var clock time.Duration
	failing := false // in fails(): the call makes no descriptor
	// A socket of the recording: its address once known, and where it
	// connected while it has none (an accept's peer comment names it).
	type rsock struct{ addr, to string }
	open := map[int]*rsock{}
	var of []*rsock                // each entry's socket
	var clients []*rsock           // connected, without an address yet
	peers := map[string][]string{} // accepted, the client not seen yet: by listener
	lowest := func() int {
		fd := 3
		for open[fd] != nil {
			fd++
		}
		open[fd] = &rsock{}
		return fd
	}
	type pending struct{ i int }
	for _, s := range specs {
		if !s.onLadder() || s.Name == "sleep" {
			continue
		}
		L.SetGlobal(s.Name, L.NewFunction(func(L *lua.LState) int {
			a := ladderArgs(L, s, clock)
			e := ladEntry{at: clock, kind: ladder.Call, op: s.Name, fd: a.fd, made: -1, label: s.Name + a.text}
			sk := open[a.fd]
			if a.fd >= 0 && sk == nil {
				sk = &rsock{}
				open[a.fd] = sk
			}
			var res []lua.LValue
			for _, k := range s.Results {
				switch k {
				case KFD:
					if failing {
						res = append(res, lua.LNil)
						continue
					}
					fd := lowest()
					if e.made < 0 {
						e.made = fd
					}
					e.label += fmt.Sprintf(" -> %d", fd)
					res = append(res, lua.LNumber(fd))
				case KOK:
					res = append(res, lua.LTrue)
				case KInt:
					res = append(res, lua.LNumber(max(a.sent, 0)))
				case KChunk, KData:
					ud := L.NewUserData()
					ud.Value = &pending{i: len(ents)}
					res = append(res, ud)
				case KAddr:
					c, peer := strings.CutPrefix(comment(L), "peer ")
					switch {
					case s.Name == "getsockname" && sk != nil:
						if c != "" {
							sk.addr = c
						}
						c = sk.addr
						e.label += " -> " + c
					case peer:
						e.label += " " + c
					}
					res = append(res, lua.LString(c))
				default:
					res = append(res, lua.LNil)
				}
			}
			if sk == nil && e.made >= 0 {
				sk = open[e.made]
			}
			switch s.Name {
			case "bind":
				if ap, err := netip.ParseAddrPort(L.OptString(2, "")); err != nil || ap.Port() != 0 {
					sk.addr = L.OptString(2, "")
				}
			case "connect":
				to := L.OptString(2, "")
				if sk.addr == "" && len(peers[to]) > 0 {
					sk.addr, peers[to] = peers[to][0], peers[to][1:]
				} else if sk.addr == "" {
					sk.to = to
					clients = append(clients, sk)
				}
			case "accept":
				if e.made < 0 {
					break
				}
				open[e.made].addr = sk.addr
				if peer, ok := strings.CutPrefix(comment(L), "peer "); ok && !failing {
					i := slices.IndexFunc(clients, func(c *rsock) bool { return c.to == sk.addr })
					if i < 0 { // the accept was recorded before the connect (another task's)
						peers[sk.addr] = append(peers[sk.addr], peer)
						break
					}
					clients[i].addr = peer
					clients = slices.Delete(clients, i, i+1)
				}
			case "close":
				delete(open, a.fd)
			}
			if sk == nil {
				e.kind = ladder.Note
			}
			ents = append(ents, e)
			of = append(of, sk)
			for _, v := range res {
				L.Push(v)
			}
			return len(res)
		}))
	}
	L.SetGlobal("at", L.NewFunction(func(L *lua.LState) int {
		clock = time.Duration(float64(L.CheckNumber(1)) * float64(time.Second))
		return 0
	}))
	L.SetGlobal("expect", L.NewFunction(func(L *lua.LState) int {
		ud, ok := L.Get(1).(*lua.LUserData)
		if !ok {
			return 0
		}
		p, ok := ud.Value.(*pending)
		if !ok {
			return 0
		}
		e := &ents[p.i]
		switch want := L.Get(2).(type) {
		case lua.LString:
			if want == "" && e.op == "recv" {
				e.label = e.op + " eof"
			} else {
				e.label = e.op + " " + head(string(want))
			}
		case *lua.LTable:
			e.label = e.op + " " + record.Quote(lua.LVAsString(want.RawGetString("match"))) + " (a pattern)"
		}
		return 0
	}))
	L.SetGlobal("fails", L.NewFunction(func(L *lua.LState) int {
		code := L.CheckString(1)
		n := len(ents)
		failing = true
		L.Call(L.GetTop()-2, lua.MultRet)
		failing = false
		if len(ents) > n {
			ents[n].label += ": " + code
			ents[n].alert = true
		}
		return 0
	}))
	// The rest (strict, sleep...) does nothing here.
	if err := readWith(L, src, file); err != nil {
		return nil, err
	}
	for i, sk := range of {
		if sk != nil {
			ents[i].addr = sk.addr
		}
	}
	return ents, nil
}

// readWith runs the recording src in L, whose globals are the functions
// that note what it did; any other global it calls does nothing.
func readWith(L *lua.LState, src, file string) error {
	nop := L.NewFunction(func(L *lua.LState) int { return 0 })
	meta := L.NewTable()
	meta.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.Push(nop)
		return 1
	}))
	L.SetMetatable(L.G.Global, meta)
	fn, err := load(L, src, file)
	if err != nil {
		return err
	}
	L.Push(fn)
	return L.PCall(0, 0, nil)
}

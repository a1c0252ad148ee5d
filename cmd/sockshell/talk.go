package main

import (
	"flag"
	"fmt"
	"strings"

	"sockshell/luaapi"
)

// talkFlags are -c and -l, sockshell as nc: a connection (dialled, or
// accepted from a listener made for it) and interact on it.
type talkFlags struct {
	connect, listen string
	crlf, hex       bool
}

func (t *talkFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.connect, "c", "", "")
	fs.StringVar(&t.listen, "l", "", "")
	fs.BoolVar(&t.crlf, "crlf", false, "")
	fs.BoolVar(&t.hex, "x", false, "")
}

// check refuses what does not go with -c or -l and adds the chunk they
// run to the options' chunks.
func (t *talkFlags) check(o *options) error {
	switch {
	case t.connect == "" && t.listen == "":
		if t.crlf || t.hex {
			return fmt.Errorf("--crlf and -x go with -c or -l")
		}
		return nil
	case t.connect != "" && t.listen != "":
		return fmt.Errorf("-c and -l do not go together")
	case o.script != "" || o.interactive || o.jobs > 0:
		return fmt.Errorf("-c and -l take no SCRIPT, -i or -j")
	}
	o.chunks = append(o.chunks, t.chunk())
	return nil
}

// chunk is the Lua that -c or -l runs: the calls a user would type, so
// that --record records them. A failure is one line, exit status 1.
func (t *talkFlags) chunk() string {
	modes := ""
	if t.crlf {
		modes += `, "crlf"`
	}
	if t.hex {
		modes += `, "hex"`
	}
	var b strings.Builder
	b.WriteString("local function check(v, msg) if v == nil then error(\"sockshell: \" .. msg, 0) end return v end\n")
	if t.connect != "" {
		fmt.Fprintf(&b, "local fd = check(dial(%s))\n", luaapi.Quote(t.connect))
	} else {
		// A listener waits for its client as long as it takes, as nc -l does.
		fmt.Fprintf(&b, "local srv = check(serve(%s, 1))\n", luaapi.Quote(t.listen))
		b.WriteString("local fd = check(accept(srv, 1e8))\nclose(srv)\n")
	}
	fmt.Fprintf(&b, "check(interact(fd%s))\n", modes)
	return b.String()
}

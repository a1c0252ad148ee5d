package main

import (
	"fmt"

	"sockshell/luaapi"
)

// playing turns --proxy and --as into the Lua chunk that runs them (proxy
// and mock, from luaapi's prelude), as if given with -e: a failure is one
// line, the exit status 1.
func (o *options) playing() error {
	q := luaapi.Quote
	switch {
	case o.proxy != "" && o.as != "":
		return fmt.Errorf("--proxy and --as do not go together")
	case o.proxy != "":
		if o.script != "" {
			return fmt.Errorf("--proxy takes no script (got %q)", o.script)
		}
		o.chunks = append(o.chunks, fmt.Sprintf("assert(proxy(%s, %s))", q(o.proxy), q(o.upstream)))
	case o.as != "":
		if o.as != "server" && o.as != "client" {
			return fmt.Errorf("--as %q: expected server or client", o.as)
		}
		if o.script == "" || len(o.args) > 0 {
			return fmt.Errorf("--as %s needs one recording FILE", o.as)
		}
		o.chunks = append(o.chunks, fmt.Sprintf(
			"local n, msg = mock(%s, %s, {lenient = %t}) if not n then error(msg, 0) end",
			q(o.as), q(o.script), o.lenient))
		o.script = ""
	case o.lenient:
		return fmt.Errorf("--lenient goes with --as")
	}
	return nil
}

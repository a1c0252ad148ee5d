package repl

import (
	"encoding/hex"
	"fmt"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"sockshell/luaapi"
)

// FuzzPasteBack: bytes as the shell prints them, pasted into a send
// command and into a Lua send(fd, ...), reach the peer as the same bytes.
func FuzzPasteBack(f *testing.F) {
	for _, s := range []string{"\x00\x01\xff", "\x001", "a\"b\\c\n\r\t", "\x1b[2J", "plain", "\\x41", "]]", "--"} {
		f.Add([]byte(s))
	}
	rt, out := newRuntime(f)
	setup := fmt.Sprintf(`l = socket("unix", "stream") bind(l, "@paste-%d") listen(l) a = socket("unix", "stream") connect(a, "@paste-%d") b = accept(l)`+"\n", pid(), pid())
	if got, status := shell(f, rt, out, setup); status != 0 {
		f.Fatalf("setup: %s", got)
	}
	fd := int(rt.Global("a").(lua.LNumber))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		printed := luaapi.Quote(string(data))
		check := fmt.Sprintf("expect(recvn(b, %d, 2), unhex(%q))\n", len(data), hex.EncodeToString(data))
		input := fmt.Sprintf("send %d %s\n", fd, printed) + check + fmt.Sprintf("send(a, %s)\n", printed) + check
		if got, status := shell(t, rt, out, input); status != 0 {
			t.Fatalf("%q printed as %s does not paste back:\n%s", data, printed, got)
		}
	})
}

package record

import (
	"strconv"
	"strings"

	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// Parse parses src, a Lua chunk named name, into the syntax tree that
// gopher-lua compiles, reading \xNN escapes as LuaSource does.
//
// gopher-lua's own parser (a goyacc machine that copies a large value on
// every step) takes about 5 µs a line: half of the second it took to load
// a 100,000-line recording, a third of the time its replay took. Parse first tries a recursive-descent
// parser that builds the same tree, line numbers included, about five times
// faster; it covers the Lua that recordings and most scripts are made of,
// and at the first thing it does not know (a long string, a goto, a syntax
// error) hands the whole chunk to gopher-lua's parser, whose result and
// messages are then those of any other chunk. A test holds the two to the
// same trees on every recording and script the suite has, and a fuzz test
// on any source the fast one accepts.
func Parse(src, name string) ([]ast.Stmt, error) {
	if chunk, ok := parseFast(src); ok {
		return chunk, nil
	}
	return parse.Parse(strings.NewReader(LuaSource(src)), name)
}

// parseFast parses src, or reports false where it would have to guess.
func parseFast(src string) (chunk []ast.Stmt, ok bool) {
	if strings.IndexByte(src, '\r') >= 0 {
		return nil, false
	}
	p := &parser{src: src, line: 1}
	defer func() {
		if r := recover(); r != nil {
			if r != errGiveUp {
				panic(r)
			}
			chunk, ok = nil, false
		}
	}()
	p.next()
	chunk = p.block()
	if p.tok != tEOF {
		p.giveUp()
	}
	return chunk, true
}

// errGiveUp is what the fast parser panics with to hand a chunk over.
var errGiveUp = new(int)

// Token kinds of the fast parser: a single character stands for itself.
const (
	tEOF = -1 - iota
	tName
	tKeyword
	tString
	tNumber
	tConcat // ..
	tDots   // ...
	tEq     // ==
	tNe     // ~=
	tLe     // <=
	tGe     // >=
)

type parser struct {
	slabs
	src  string
	pos  int // where the next token's scan starts
	line int // the line at pos

	tok      int    // the current token
	val      string // its text: a name, keyword or number as written, a string's value
	tokLine  int    // the line it starts on
	prevLine int    // the line the token before it started on
}

func (p *parser) giveUp() { panic(errGiveUp) }

// slabs hands out the nodes a recording is mostly made of from arrays of
// them, a malloc for hundreds: parsing a long recording was a third
// allocation.
type slabs struct {
	idents  []ast.IdentExpr
	strs    []ast.StringExpr
	nums    []ast.NumberExpr
	calls   []ast.FuncCallExpr
	stmts   []ast.FuncCallStmt
	exprs   []ast.Expr
	scratch []ast.Expr
}

const slabSize = 512

// take returns the next element of *slab, making another array when it
// runs out.
func take[T any](slab *[]T) *T {
	if len(*slab) == 0 {
		*slab = make([]T, slabSize)
	}
	x := &(*slab)[0]
	*slab = (*slab)[1:]
	return x
}

// list returns a copy of es in an array of the slab, as long as es.
func (s *slabs) list(es []ast.Expr) []ast.Expr {
	if len(es) > slabSize/8 {
		return append([]ast.Expr(nil), es...)
	}
	if len(s.exprs) < len(es) {
		s.exprs = make([]ast.Expr, slabSize)
	}
	out := s.exprs[:len(es):len(es)]
	s.exprs = s.exprs[len(es):]
	copy(out, es)
	return out
}

// next scans the next token.
func (p *parser) next() {
	p.prevLine = p.tokLine
	src := p.src
	for {
		for p.pos < len(src) && (src[p.pos] == ' ' || src[p.pos] == '\t' || src[p.pos] == '\n') {
			if src[p.pos] == '\n' {
				p.line++
			}
			p.pos++
		}
		if !strings.HasPrefix(src[p.pos:], "--") {
			break
		}
		if strings.HasPrefix(src[p.pos+2:], "[[") || strings.HasPrefix(src[p.pos+2:], "[=") {
			p.giveUp() // a long comment
		}
		if i := strings.IndexByte(src[p.pos:], '\n'); i >= 0 {
			p.pos += i
		} else {
			p.pos = len(src)
		}
	}
	p.tokLine = p.line
	if p.pos >= len(src) {
		p.tok = tEOF
		return
	}
	start := p.pos
	c := src[start]
	switch {
	case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		i := start + 1
		for i < len(src) && isIdentByte(src[i]) {
			i++
		}
		p.pos = i
		p.val = src[start:i]
		p.tok = tName
		if keywords[p.val] {
			p.tok = tKeyword
		}
	case '0' <= c && c <= '9', c == '.' && start+1 < len(src) && '0' <= src[start+1] && src[start+1] <= '9':
		p.number()
	case c == '"' || c == '\'':
		p.quoted(c)
	default:
		p.pos++
		p.tok = int(c)
		two := ""
		if p.pos < len(src) {
			two = src[start : start+2]
		}
		switch {
		case two == "==":
			p.tok, p.pos = tEq, p.pos+1
		case two == "~=":
			p.tok, p.pos = tNe, p.pos+1
		case two == "<=":
			p.tok, p.pos = tLe, p.pos+1
		case two == ">=":
			p.tok, p.pos = tGe, p.pos+1
		case two == "..":
			p.tok, p.pos = tConcat, p.pos+1
			if p.pos < len(src) && src[p.pos] == '.' {
				p.tok, p.pos = tDots, p.pos+1
			}
		case two == "[[", two == "[=", two == "::":
			p.giveUp()
		case strings.IndexByte("+-*/%^#(){}[];,:=<>.", c) < 0:
			p.giveUp()
		}
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

var keywords = map[string]bool{
	"and": true, "break": true, "do": true, "else": true, "elseif": true,
	"end": true, "false": true, "for": true, "function": true, "if": true,
	"in": true, "local": true, "nil": true, "not": true, "or": true,
	"return": true, "repeat": true, "then": true, "true": true, "until": true,
	"while": true, "goto": true,
}

// number scans a number as gopher-lua's scanner does, keeping its text; the
// shapes where that scanner does something odd (a leading 0 before digits,
// "1e" with no digits) are given up.
func (p *parser) number() {
	src, i := p.src, p.pos
	if strings.HasPrefix(src[i:], "0x") || strings.HasPrefix(src[i:], "0X") {
		i += 2
		j := i
		for i < len(src) && isHex(src[i]) {
			i++
		}
		if i == j {
			p.giveUp()
		}
	} else {
		if src[i] == '0' && i+1 < len(src) && isDigit(src[i+1]) {
			p.giveUp()
		}
		for i < len(src) && isDigit(src[i]) {
			i++
		}
		if i < len(src) && src[i] == '.' {
			i++
			for i < len(src) && isDigit(src[i]) {
				i++
			}
		}
		if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
			i++
			if i < len(src) && (src[i] == '+' || src[i] == '-') {
				i++
			}
			j := i
			for i < len(src) && isDigit(src[i]) {
				i++
			}
			if i == j {
				p.giveUp()
			}
		}
	}
	if i < len(src) && (isIdentByte(src[i]) || src[i] == '.') {
		p.giveUp()
	}
	p.tok, p.val, p.pos = tNumber, src[p.pos:i], i
}

// quoted scans a quoted string, with the escapes of gopher-lua's scanner
// and \xNN.
func (p *parser) quoted(q byte) {
	src := p.src
	i := p.pos + 1
	j := i
	for j < len(src) && src[j] != q && src[j] != '\\' && src[j] != '\n' {
		j++
	}
	if j < len(src) && src[j] == q {
		p.tok, p.val, p.pos = tString, src[i:j], j+1
		return
	}
	var b strings.Builder
	b.WriteString(src[i:j])
	for i = j; ; {
		if i >= len(src) || src[i] == '\n' {
			p.giveUp()
		}
		c := src[i]
		if c == q {
			break
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(src) {
			p.giveUp()
		}
		e := src[i+1]
		i += 2
		if k := strings.IndexByte("abfnrtv", e); k >= 0 {
			b.WriteByte("\a\b\f\n\r\t\v"[k])
			continue
		}
		switch e {
		case '\n':
			p.giveUp()
		case 'x':
			if i+1 < len(src) && isHex(src[i]) && isHex(src[i+1]) {
				v, _ := strconv.ParseUint(src[i:i+2], 16, 8)
				b.WriteByte(byte(v))
				i += 2
			} else {
				b.WriteByte('x')
			}
		default:
			if !isDigit(e) {
				b.WriteByte(e)
				break
			}
			v := int(e - '0')
			for k := 0; k < 2 && i < len(src) && isDigit(src[i]); k++ {
				v = v*10 + int(src[i]-'0')
				i++
			}
			b.WriteByte(byte(v))
		}
	}
	p.tok, p.val, p.pos = tString, b.String(), i+1
}

func (p *parser) is(tok int) bool { return p.tok == tok }

func (p *parser) isKeyword(w string) bool { return p.tok == tKeyword && p.val == w }

// expect consumes tok, returning the line it was on.
func (p *parser) expect(tok int) int {
	if p.tok != tok {
		p.giveUp()
	}
	line := p.tokLine
	p.next()
	return line
}

func (p *parser) expectKeyword(w string) int {
	if !p.isKeyword(w) {
		p.giveUp()
	}
	line := p.tokLine
	p.next()
	return line
}

func (p *parser) name() string {
	if p.tok != tName {
		p.giveUp()
	}
	s := p.val
	p.next()
	return s
}

// blockEnd reports whether the current token ends a block.
func (p *parser) blockEnd() bool {
	if p.tok == tEOF {
		return true
	}
	if p.tok != tKeyword {
		return false
	}
	switch p.val {
	case "end", "else", "elseif", "until":
		return true
	}
	return false
}

// block parses statements up to the end of a block.
func (p *parser) block() []ast.Stmt {
	stmts := []ast.Stmt{}
	for !p.blockEnd() {
		if p.is(';') {
			p.next()
			continue
		}
		if p.isKeyword("return") || p.isKeyword("break") {
			stmts = append(stmts, p.lastStat())
			if p.is(';') {
				p.next()
			}
			if !p.blockEnd() {
				p.giveUp()
			}
			break
		}
		stmts = append(stmts, p.stat())
	}
	return stmts
}

func (p *parser) lastStat() ast.Stmt {
	line := p.tokLine
	if p.isKeyword("break") {
		p.next()
		s := &ast.BreakStmt{}
		s.SetLine(line)
		return s
	}
	p.next()
	s := &ast.ReturnStmt{}
	if !p.blockEnd() && !p.is(';') {
		s.Exprs = p.exprList()
	}
	s.SetLine(line)
	return s
}

func (p *parser) stat() ast.Stmt {
	line := p.tokLine
	if p.tok == tKeyword {
		switch p.val {
		case "do":
			p.next()
			s := &ast.DoBlockStmt{Stmts: p.block()}
			s.SetLine(line)
			s.SetLastLine(p.expectKeyword("end"))
			return s
		case "while":
			p.next()
			cond := p.expr(0)
			p.expectKeyword("do")
			s := &ast.WhileStmt{Condition: cond, Stmts: p.block()}
			s.SetLine(line)
			s.SetLastLine(p.expectKeyword("end"))
			return s
		case "repeat":
			p.next()
			body := p.block()
			p.expectKeyword("until")
			cond := p.expr(0)
			s := &ast.RepeatStmt{Condition: cond, Stmts: body}
			s.SetLine(line)
			s.SetLastLine(cond.Line())
			return s
		case "if":
			return p.ifStat()
		case "for":
			return p.forStat()
		case "function":
			p.next()
			name := p.funcName()
			fn := p.funcBody()
			s := &ast.FuncDefStmt{Name: name, Func: fn}
			s.SetLine(line)
			s.SetLastLine(fn.LastLine())
			return s
		case "local":
			p.next()
			if p.isKeyword("function") {
				p.next()
				name := p.name()
				fn := p.funcBody()
				s := &ast.LocalAssignStmt{Names: []string{name}, Exprs: []ast.Expr{fn}}
				s.SetLine(line)
				s.SetLastLine(fn.LastLine())
				return s
			}
			s := &ast.LocalAssignStmt{Names: p.nameList(), Exprs: []ast.Expr{}}
			if p.is('=') {
				p.next()
				s.Exprs = p.exprList()
			}
			s.SetLine(line)
			return s
		}
		p.giveUp()
	}
	e, isVar := p.suffixed()
	if p.is('=') || p.is(',') {
		lhs := []ast.Expr{e}
		for {
			if !isVar {
				p.giveUp()
			}
			if !p.is(',') {
				break
			}
			p.next()
			e, isVar = p.suffixed()
			lhs = append(lhs, e)
		}
		p.expect('=')
		s := &ast.AssignStmt{Lhs: lhs, Rhs: p.exprList()}
		s.SetLine(lhs[0].Line())
		return s
	}
	call, ok := e.(*ast.FuncCallExpr)
	if !ok || isVar {
		p.giveUp()
	}
	s := take(&p.stmts)
	s.Expr = call
	s.SetLine(call.Line())
	return s
}

func (p *parser) ifStat() ast.Stmt {
	line := p.expectKeyword("if")
	cond := p.expr(0)
	p.expectKeyword("then")
	top := &ast.IfStmt{Condition: cond, Then: p.block()}
	top.SetLine(line)
	cur := top
	for p.isKeyword("elseif") {
		l := p.tokLine
		p.next()
		c := p.expr(0)
		p.expectKeyword("then")
		s := &ast.IfStmt{Condition: c, Then: p.block()}
		s.SetLine(l)
		cur.Else = []ast.Stmt{s}
		cur = s
	}
	if p.isKeyword("else") {
		p.next()
		cur.Else = p.block()
	}
	top.SetLastLine(p.expectKeyword("end"))
	return top
}

func (p *parser) forStat() ast.Stmt {
	line := p.expectKeyword("for")
	first := p.name()
	if p.is('=') {
		p.next()
		s := &ast.NumberForStmt{Name: first, Init: p.expr(0)}
		p.expect(',')
		s.Limit = p.expr(0)
		if p.is(',') {
			p.next()
			s.Step = p.expr(0)
		}
		p.expectKeyword("do")
		s.Stmts = p.block()
		s.SetLine(line)
		s.SetLastLine(p.expectKeyword("end"))
		return s
	}
	names := []string{first}
	for p.is(',') {
		p.next()
		names = append(names, p.name())
	}
	p.expectKeyword("in")
	s := &ast.GenericForStmt{Names: names, Exprs: p.exprList()}
	p.expectKeyword("do")
	s.Stmts = p.block()
	s.SetLine(line)
	s.SetLastLine(p.expectKeyword("end"))
	return s
}

func (p *parser) funcName() *ast.FuncName {
	line := p.tokLine
	id := &ast.IdentExpr{Value: p.name()}
	id.SetLine(line)
	var fn ast.Expr = id
	for p.is('.') {
		p.next()
		l := p.tokLine
		key := &ast.StringExpr{Value: p.name()}
		key.SetLine(l)
		get := &ast.AttrGetExpr{Object: fn, Key: key}
		get.SetLine(l)
		fn = get
	}
	if p.is(':') {
		p.next()
		return &ast.FuncName{Receiver: fn, Method: p.name()}
	}
	return &ast.FuncName{Func: fn}
}

// funcBody parses a function's parameters and body, from its "(".
func (p *parser) funcBody() *ast.FunctionExpr {
	line := p.expect('(')
	pars := &ast.ParList{Names: []string{}}
	if !p.is(')') {
		for {
			if p.is(tDots) {
				p.next()
				pars.HasVargs = true
				break
			}
			pars.Names = append(pars.Names, p.name())
			if !p.is(',') {
				break
			}
			p.next()
		}
	}
	p.expect(')')
	fn := &ast.FunctionExpr{ParList: pars, Stmts: p.block()}
	fn.SetLine(line)
	fn.SetLastLine(p.expectKeyword("end"))
	return fn
}

func (p *parser) nameList() []string {
	names := []string{p.name()}
	for p.is(',') {
		p.next()
		names = append(names, p.name())
	}
	return names
}

func (p *parser) exprList() []ast.Expr {
	base := len(p.scratch) // nested lists use the scratch space past base
	for {
		e := p.expr(0)
		p.scratch = append(p.scratch, e)
		if !p.is(',') {
			break
		}
		p.next()
	}
	list := p.list(p.scratch[base:])
	clear(p.scratch[base:])
	p.scratch = p.scratch[:base]
	return list
}

// Binary operators' priorities, left and right, as in Lua's own parser:
// gopher-lua's grammar declares the same order and associativity.
var binary = map[int]struct{ left, right int }{
	'+': {6, 6}, '-': {6, 6}, '*': {7, 7}, '/': {7, 7}, '%': {7, 7},
	'^': {10, 9}, tConcat: {5, 4},
	tEq: {3, 3}, tNe: {3, 3}, '<': {3, 3}, tLe: {3, 3}, '>': {3, 3}, tGe: {3, 3},
}

const unaryPriority = 8

// binaryOp returns the current token's priorities, if it is a binary
// operator.
func (p *parser) binaryOp() (left, right int, ok bool) {
	if p.tok == tKeyword {
		switch p.val {
		case "or":
			return 1, 1, true
		case "and":
			return 2, 2, true
		}
		return 0, 0, false
	}
	pr, ok := binary[p.tok]
	return pr.left, pr.right, ok
}

// expr parses an expression whose binary operators bind tighter than limit.
func (p *parser) expr(limit int) ast.Expr {
	var e ast.Expr
	switch {
	case p.is('-') || p.is('#') || p.isKeyword("not"):
		op := p.tok
		p.next()
		operand := p.expr(unaryPriority)
		switch op {
		case '-':
			e = &ast.UnaryMinusOpExpr{Expr: operand}
		case '#':
			e = &ast.UnaryLenOpExpr{Expr: operand}
		default:
			e = &ast.UnaryNotOpExpr{Expr: operand}
		}
		e.SetLine(operand.Line())
	default:
		e = p.simple()
	}
	for {
		left, right, ok := p.binaryOp()
		if !ok || left <= limit {
			return e
		}
		op, word := p.tok, p.val
		p.next()
		rhs := p.expr(right)
		var b ast.Expr
		switch {
		case op == tKeyword:
			b = &ast.LogicalOpExpr{Lhs: e, Operator: word, Rhs: rhs}
		case op == tConcat:
			b = &ast.StringConcatOpExpr{Lhs: e, Rhs: rhs}
		case op == tEq || op == tNe || op == tLe || op == tGe || op == '<' || op == '>':
			b = &ast.RelationalOpExpr{Lhs: e, Operator: opText[op], Rhs: rhs}
		default:
			b = &ast.ArithmeticOpExpr{Lhs: e, Operator: string(rune(op)), Rhs: rhs}
		}
		b.SetLine(e.Line())
		e = b
	}
}

var opText = map[int]string{tEq: "==", tNe: "~=", tLe: "<=", tGe: ">=", '<': "<", '>': ">"}

// simple parses a literal, a function, a table or a suffixed expression.
func (p *parser) simple() ast.Expr {
	line := p.tokLine
	var e ast.Expr
	switch {
	case p.is(tNumber):
		n := take(&p.nums)
		n.Value = p.val
		e = n
	case p.is(tString):
		str := take(&p.strs)
		str.Value = p.val
		e = str
	case p.is(tDots):
		e = &ast.Comma3Expr{}
	case p.is('{'):
		return p.table()
	case p.isKeyword("nil"):
		e = &ast.NilExpr{}
	case p.isKeyword("true"):
		e = &ast.TrueExpr{}
	case p.isKeyword("false"):
		e = &ast.FalseExpr{}
	case p.isKeyword("function"):
		p.next()
		body := p.funcBody()
		fn := &ast.FunctionExpr{ParList: body.ParList, Stmts: body.Stmts}
		fn.SetLine(line)
		fn.SetLastLine(body.LastLine())
		return fn
	default:
		e, _ = p.suffixed()
		return e
	}
	e.SetLine(line)
	p.next()
	return e
}

// suffixed parses a name or a parenthesised expression followed by any
// indexing and calls; isVar is whether it can be assigned to.
func (p *parser) suffixed() (e ast.Expr, isVar bool) {
	switch {
	case p.is(tName):
		id := take(&p.idents)
		id.Value = p.val
		id.SetLine(p.tokLine)
		p.next()
		e, isVar = id, true
	case p.is('('):
		line := p.tokLine
		p.next()
		inner := p.expr(0)
		p.expect(')')
		if call, ok := inner.(*ast.FuncCallExpr); ok && !call.AdjustRet {
			call.AdjustRet = true // gopher-lua's afunctioncall: its line stays
		} else {
			if dots, ok := inner.(*ast.Comma3Expr); ok {
				dots.AdjustRet = true
			}
			inner.SetLine(line)
		}
		e = inner
	default:
		p.giveUp()
	}
	for {
		switch {
		case p.is('['):
			p.next()
			key := p.expr(0)
			p.expect(']')
			get := &ast.AttrGetExpr{Object: e, Key: key}
			get.SetLine(e.Line())
			e, isVar = get, true
		case p.is('.'):
			p.next()
			l := p.tokLine
			key := &ast.StringExpr{Value: p.name()}
			key.SetLine(l)
			get := &ast.AttrGetExpr{Object: e, Key: key}
			get.SetLine(e.Line())
			e, isVar = get, true
		case p.is(':'):
			p.next()
			method := p.name()
			call := &ast.FuncCallExpr{Method: method, Receiver: e, Args: p.args()}
			call.SetLine(e.Line())
			e, isVar = call, false
		case p.is('(') || p.is(tString) || p.is('{'):
			call := take(&p.calls)
			call.Func, call.Args = e, p.args()
			call.SetLine(e.Line())
			e, isVar = call, false
		default:
			return e, isVar
		}
	}
}

// args parses a call's arguments.
func (p *parser) args() []ast.Expr {
	switch {
	case p.is(tString):
		s := take(&p.strs)
		s.Value = p.val
		s.SetLine(p.tokLine)
		p.next()
		return []ast.Expr{s}
	case p.is('{'):
		return []ast.Expr{p.table()}
	case p.is('('):
		if p.tokLine != p.prevLine {
			p.giveUp() // gopher-lua calls this ambiguous after a ")"
		}
		p.next()
		if p.is(')') {
			p.next()
			return []ast.Expr{}
		}
		list := p.exprList()
		p.expect(')')
		return list
	}
	p.giveUp()
	return nil
}

func (p *parser) table() ast.Expr {
	line := p.expect('{')
	t := &ast.TableExpr{Fields: []*ast.Field{}}
	t.SetLine(line)
	for !p.is('}') {
		var f *ast.Field
		switch {
		case p.is('['):
			p.next()
			key := p.expr(0)
			p.expect(']')
			p.expect('=')
			f = &ast.Field{Key: key, Value: p.expr(0)}
		case p.is(tName) && p.peekAssign():
			key := &ast.StringExpr{Value: p.val}
			key.SetLine(p.tokLine)
			p.next()
			p.next() // =
			f = &ast.Field{Key: key, Value: p.expr(0)}
		default:
			f = &ast.Field{Value: p.expr(0)}
		}
		t.Fields = append(t.Fields, f)
		if !p.is(',') && !p.is(';') {
			break
		}
		p.next()
	}
	p.expect('}')
	return t
}

// peekAssign reports whether a "=" (not "==") follows the current token.
func (p *parser) peekAssign() bool {
	i := p.pos
	for i < len(p.src) && (p.src[i] == ' ' || p.src[i] == '\t' || p.src[i] == '\n') {
		i++
	}
	return i < len(p.src) && p.src[i] == '=' && (i+1 >= len(p.src) || p.src[i+1] != '=')
}

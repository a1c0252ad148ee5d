package sock

// The raw syscalls and their Go versions, for syscall_test.go.
var (
	RawSend, SendGo = rawSend, sendGo
	RawRecv, RecvGo = rawRecv, recvGo
)

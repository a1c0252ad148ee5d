#include "textflag.h"
#include "go_asm.h"

// rawSend and rawRecv: one syscall each, with no call between the Go
// caller and the SYSCALL instruction (see syscall.go). Raw like
// syscall.RawSyscall6: the calls never block (MSG_DONTWAIT).

// func rawSend(fd int, data string) (n int, errno unix.Errno)
TEXT ·rawSend(SB),NOSPLIT,$0-40
	MOVQ	fd+0(FP), DI
	MOVQ	data_base+8(FP), SI
	MOVQ	data_len+16(FP), DX
	MOVQ	$const_sendFlags, R10
	XORQ	R8, R8
	XORQ	R9, R9
	MOVQ	$const_sysSendto, AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JLS	sent
	NEGQ	AX
	MOVQ	$0, n+24(FP)
	MOVQ	AX, errno+32(FP)
	RET
sent:
	MOVQ	AX, n+24(FP)
	MOVQ	$0, errno+32(FP)
	RET

// func rawRecv(fd int, buf []byte) (n int, errno unix.Errno)
TEXT ·rawRecv(SB),NOSPLIT,$0-48
	MOVQ	fd+0(FP), DI
	MOVQ	buf_base+8(FP), SI
	MOVQ	buf_len+16(FP), DX
	MOVQ	$const_recvFlags, R10
	XORQ	R8, R8
	XORQ	R9, R9
	MOVQ	$const_sysRecvfrom, AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JLS	read
	NEGQ	AX
	MOVQ	$0, n+32(FP)
	MOVQ	AX, errno+40(FP)
	RET
read:
	MOVQ	AX, n+32(FP)
	MOVQ	$0, errno+40(FP)
	RET

package sock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"sockshell/sock"
)

// A server and a client in one goroutine and one Table. Every call makes one
// non-blocking attempt; Do retries it, waiting for the descriptor to be
// ready in between, until the deadline.
func Example() {
	tab := sock.NewTable()
	defer tab.CloseAll()
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)

	// server: socket, bind (port 0: the kernel picks), listen
	srv, _ := tab.Socket("inet", "stream")
	if err := tab.Bind(srv, "127.0.0.1:0"); err != nil {
		fmt.Println(err)
		return
	}
	tab.Listen(srv, 128)
	addr, _ := tab.Sockname(srv)

	// client: socket, connect. The handshake completes in the kernel,
	// before the server calls accept.
	cli, _ := tab.Socket("inet", "stream")
	err := tab.Connect(cli, addr)
	if err == unix.EINPROGRESS {
		err = tab.Do(ctx, cli, sock.Writable, deadline, func() error {
			return tab.FinishConnect(cli, addr)
		})
	}
	fmt.Println("connect:", err)

	var conn int
	err = tab.Do(ctx, srv, sock.Readable, deadline, func() (err error) {
		conn, _, err = tab.Accept(srv)
		return err
	})
	fmt.Println("accept:", err)

	tab.Send(cli, "hello\n")
	var line []byte
	tab.Do(ctx, conn, sock.Readable, deadline, func() (err error) {
		line, err = tab.RecvUntil(conn, "\n", 0)
		return err
	})
	fmt.Printf("server got %q\n", line)

	tab.Send(conn, "world\n")
	tab.Close(conn)
	for {
		var b []byte
		tab.Do(ctx, cli, sock.Readable, deadline, func() (err error) {
			b, err = tab.Recv(cli, 100)
			return err
		})
		if len(b) == 0 {
			fmt.Println("client: end of stream")
			break
		}
		fmt.Printf("client got %q\n", b)
	}
	// Output:
	// connect: <nil>
	// accept: <nil>
	// server got "hello\n"
	// client got "world\n"
	// client: end of stream
}

// Waiting for something that does not come ends at the deadline with
// ETIMEDOUT; bytes that arrived before stay buffered.
func ExampleTable_Do() {
	tab := sock.NewTable()
	defer tab.CloseAll()
	ctx := context.Background()

	name := fmt.Sprintf("@sockshell-example-%d", os.Getpid()) // an abstract name
	srv, _ := tab.Socket("unix", "stream")
	tab.Bind(srv, name)
	tab.Listen(srv, 1)
	cli, _ := tab.Socket("unix", "stream")
	tab.Connect(cli, name) // AF_UNIX connects at once
	var conn int
	tab.Do(ctx, srv, sock.Readable, time.Now().Add(5*time.Second), func() (err error) {
		conn, _, err = tab.Accept(srv)
		return err
	})

	tab.Send(cli, "4 of 10")
	err := tab.Do(ctx, conn, sock.Readable, time.Now().Add(50*time.Millisecond), func() error {
		_, err := tab.RecvN(conn, 10, 0)
		return err
	})
	fmt.Println(errors.Is(err, unix.ETIMEDOUT), sock.Code(err))
	b, _ := tab.Recv(conn, 100)
	fmt.Printf("%q\n", b)
	// Output:
	// true ETIMEDOUT
	// "4 of 10"
}

// Errors say what failed, on which descriptor and address, and why, and
// unwrap to the errno.
func ExampleError() {
	tab := sock.NewTable()
	defer tab.CloseAll()

	fd, _ := tab.Socket("inet", "stream")
	err := tab.Bind(fd, "localhost")
	fmt.Println(sock.Code(err), errors.Is(err, unix.EINVAL))

	err = tab.Close(fd + 1)
	var e *sock.Error
	fmt.Println(errors.As(err, &e), e.Op, sock.Code(err))
	// Output:
	// EINVAL true
	// true close EBADF
}

// Frame puts a length prefix in front of data; RecvFrame takes it off.
func ExampleFrame() {
	for _, kind := range []string{"u8", "u16be", "u32le"} {
		b, _ := sock.Frame(-1, kind, "hi")
		fmt.Printf("%-5s % x\n", kind, b)
	}
	// Output:
	// u8    02 68 69
	// u16be 00 02 68 69
	// u32le 02 00 00 00 68 69
}

func ExampleParseAddr() {
	for _, s := range []string{"127.0.0.1:8080", "*:80", "/tmp/s.sock", "@name", "8080"} {
		domain := unix.AF_INET
		if s[0] == '/' || s[0] == '@' {
			domain = unix.AF_UNIX
		}
		sa, err := sock.ParseAddr(domain, s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(sock.FormatAddr(sa))
	}
	// Output:
	// 127.0.0.1:8080
	// 0.0.0.0:80
	// /tmp/s.sock
	// @name
	// address: EINVAL: bad address "8080": expected host:port or [v6addr]:port
}

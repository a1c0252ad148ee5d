-- tcp_workflow.lua — the TCP socket workflow in nine steps, server and client
-- in one script, with the kernel's own TCP state printed after each step.
--
--   server: socket -> bind -> listen -> accept -> recv/send -> close
--   client: socket ---------> connect ---------> send/recv -> close
--
-- One script plays both sides without threads: connect returns as soon as
-- the kernel has finished the three-way handshake, long before the server
-- calls accept (the finished connection waits in the listen backlog).
-- sockshell --wire scripts/tcp_workflow.lua (as root) shows the packets too:
-- SYN, SYN-ACK, ACK inside connect; FIN and ACK around the closes.

local function tcp(fd) return info(fd).tcp_state end

-- Wait (up to a second) until fd's TCP state is want; return the state.
local function wait_state(fd, want)
  local deadline = os.clock() + 1
  while tcp(fd) ~= want and os.clock() < deadline do end
  return tcp(fd)
end

print("1. server: socket() makes a TCP socket (inet, stream)")
local srv = assert(socket("inet", "stream"))
print("   fd " .. srv .. ", API state " .. info(srv).state .. ", TCP state " .. tostring(tcp(srv)))

print("2. server: bind() gives it an address; port 0 lets the kernel pick a free port")
assert(bind(srv, "127.0.0.1:0"))
local addr = assert(getsockname(srv))
print("   bound to " .. addr)

print("3. server: listen() turns it into a listening socket that waits for clients")
assert(listen(srv, 16))
print("   TCP state " .. tcp(srv))
expect(tcp(srv), "LISTEN")

print("4. client: socket() makes the client's own TCP socket")
local cli = assert(socket("inet", "stream"))

print("5. client: connect() to " .. addr .. " — the kernel does the three-way handshake")
assert(connect(cli, addr))
print("   client TCP state " .. tcp(cli) .. " (the server has not called accept yet!)")
expect(tcp(cli), "ESTABLISHED")

print("6. server: accept() takes the finished connection out of the backlog")
local conn, peer = assert(accept(srv))
print("   new fd " .. conn .. " talks to " .. peer .. "; TCP state " .. tcp(conn))
print("   the listening fd " .. srv .. " stays " .. tcp(srv) .. ", ready for the next client")
expect(tcp(conn), "ESTABLISHED")
expect(peer, getsockname(cli))

print("7. client: send() writes a request into the connection")
local n = assert(send(cli, "hello, server"))
print("   the kernel took " .. n .. " bytes; server receive queue now holds " .. info(conn).recvq)
expect(n, 13)

print("8. server: recv() reads it, send() answers; the client reads the answer")
local req = assert(recv(conn, 1024))
print("   server got " .. string.format("%q", req))
expect(req, "hello, server")
assert(send(conn, "hello, client"))
local resp = assert(recv(cli, 1024))
print("   client got " .. string.format("%q", resp))
expect(resp, "hello, client")

print("9. done: close. The side that closes first sends FIN (four-way teardown).")
-- close() would also drop the fd, and then we could not look at its state any
-- more; shutdown(wr) sends the same FIN but keeps the fd, so we can watch.
assert(shutdown(cli, "wr"))
print("   client sent FIN:           client " .. tcp(cli) .. ", server " .. tcp(conn))
expect(tcp(conn), "CLOSE_WAIT")
-- FIN_WAIT1 until the server's kernel acknowledges the FIN; it delays that
-- ACK a few milliseconds, hoping to send it along with its own FIN.
print("   the server's ACK arrives:  client " .. wait_state(cli, "FIN_WAIT2"))
expect(tcp(cli), "FIN_WAIT2")
local eof = recv(conn, 1024)
print("   server recv returns " .. string.format("%q", eof) .. " = end of stream, so it closes too")
expect(eof, "")
assert(close(conn))
-- The client, which closed first, now owes the network a TIME_WAIT (2*MSL,
-- so late packets die out). Linux keeps that in a small separate record
-- (`ss -tan` shows it) and marks the socket behind our fd CLOSE at once.
print("   server closed:             client " .. wait_state(cli, "CLOSE") .. " (its TIME_WAIT lives on in the kernel: ss -tan)")
expect(tcp(cli), "CLOSE")
expect(recv(cli, 1024), "")
assert(close(cli))
assert(close(srv))
print("   all closed; descriptors left open: " .. #fds())
expect(#fds(), 0)

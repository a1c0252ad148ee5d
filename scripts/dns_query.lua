-- dns_query.lua — a DNS query by hand: string.pack builds it, sendto sends it
-- in one UDP datagram, string.unpack reads the answer (RFC 1035).
--
--   sockshell scripts/dns_query.lua                          (its own responder)
--   sockshell scripts/dns_query.lua 127.0.0.1:5353 example.test   (a real server)
--
-- A DNS message is a 12-byte header (id, flags, four counts, each a 16-bit
-- big-endian integer: ">I2"), then the questions and the resource records.
-- A name is a list of labels, each a length byte and its bytes ("s1"),
-- ended by a zero byte; in a reply a name may end instead with a pointer
-- (two bytes whose top bits are 11) to a name earlier in the message.
-- With no argument the script starts its own tiny responder as a task on
-- 127.0.0.1:0 that answers every A question with 192.0.2.1.

local server, qname = arg[1], arg[2] or "example.test"
local TYPE = {[1] = "A", [2] = "NS", [5] = "CNAME", [6] = "SOA", [28] = "AAAA"}
local RCODE = {[0] = "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"}

-- The name at pos in msg, and the position after it (after the pointer,
-- if it ends in one).
local function read_name(msg, pos)
  local labels, after, hops = {}, nil, 0
  while true do
    local len = string.unpack("B", msg, pos)
    if len == 0 then
      return table.concat(labels, "."), after or pos + 1
    elseif bit.band(len, 0xc0) == 0xc0 then          -- a compression pointer
      hops = hops + 1
      assert(hops < 64, "a loop of compression pointers")
      after = after or pos + 2
      pos = bit.band(string.unpack(">I2", msg, pos), 0x3fff) + 1
    else
      local label
      label, pos = string.unpack("s1", msg, pos)
      labels[#labels + 1] = label
    end
  end
end

local function pack_name(name)
  local parts = {}
  for label in name:gmatch("[^.]+") do
    parts[#parts + 1] = string.pack("s1", label)
  end
  return table.concat(parts) .. "\0"
end

local HEADER = ">I2 I2 I2 I2 I2 I2"   -- id, flags, qdcount, ancount, nscount, arcount

-- The responder: one query in, one answer out, its name a pointer to the
-- question's (offset 12, just after the header: 0xc00c).
local function responder(fd)
  local query, from = assert(recvfrom(fd, 512))
  local id, flags = string.unpack(HEADER, query)
  local name, pos = read_name(query, 13)
  local qtype, qclass, after = string.unpack(">I2 I2", query, pos)
  local reply = string.pack(HEADER, id, 0x8580, 1, 1, 0, 0)      -- QR AA RD RA, NOERROR
    .. query:sub(13, after - 1)                                   -- the question, as asked
    .. string.pack(">I2 I2 I2 I4 s2", 0xc00c, 1, 1, 300, string.pack("BBBB", 192, 0, 2, 1))
  assert(sendto(fd, reply, from))
  return name
end

local task
if not server then
  local fd = assert(socket("inet", "dgram"))
  assert(bind(fd, "127.0.0.1:0"))
  server = getsockname(fd)
  task = spawn(responder, fd)
  print("responder on " .. server)
end

-- The query: a header with RD (recursion desired) and one question.
local id = math.floor(now() * 1000) % 65536
local query = string.pack(HEADER, id, 0x0100, 1, 0, 0, 0)
  .. pack_name(qname)
  .. string.pack(">I2 I2", 1, 1)                                  -- QTYPE A, QCLASS IN
print(string.format("query for %s A IN, id 0x%04x, %d bytes:", qname, id, #query))
io.write(hexdump(query))

local fd = assert(socket(server:sub(1, 1) == "[" and "inet6" or "inet", "dgram"))
expect(sendto(fd, query, server), #query)
local reply, from = assert(recvfrom(fd, 4096, 5))
expect(from, server, "the reply's sender")

-- The reply: its header, the question echoed, then the answers.
local rid, flags, qdcount, ancount, nscount, arcount, pos = string.unpack(HEADER, reply)
local rcode = bit.band(flags, 0xf)
print(string.format("reply: %d bytes, id 0x%04x, %s; questions %d, answers %d, authority %d, additional %d",
  #reply, rid, RCODE[rcode] or rcode, qdcount, ancount, nscount, arcount))
expect(rid, id, "the reply's id")
expect(bit.rshift(flags, 15), 1, "QR: a reply")
for _ = 1, qdcount do
  local name, qtype, qclass
  name, pos = read_name(reply, pos)
  qtype, qclass, pos = string.unpack(">I2 I2", reply, pos)
  print(string.format("question: %s %s", name, TYPE[qtype] or qtype))
  expect(name:lower(), qname:lower(), "the question echoed")
end
local addresses = {}
for _ = 1, ancount do
  local name, rtype, class, ttl, rdata, rdpos
  name, pos = read_name(reply, pos)
  rtype, class, ttl, rdata, pos = string.unpack(">I2 I2 I4 s2", reply, pos)
  rdpos = pos - #rdata
  local value
  if rtype == 1 then
    value = string.format("%d.%d.%d.%d", string.unpack("BBBB", rdata))
    addresses[#addresses + 1] = value
  elseif rtype == 5 then
    value = read_name(reply, rdpos)                 -- a CNAME's target may hold pointers too
  else
    value = hex(rdata)
  end
  print(string.format("answer: %s %s ttl %d %s", name, TYPE[rtype] or rtype, ttl, value))
end
if nscount + arcount == 0 then
  expect(pos, #reply + 1, "every byte of the reply read")
else
  print("(authority and additional records not shown)")
end

if task then
  expect(wait(task), qname)
  expect(addresses, {"192.0.2.1"})
end
close(fd)

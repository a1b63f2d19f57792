"""SMTP servers for the TLS probe tests (tests/tlscheck/servers.sh): one
process, one listener per address, each with its own behaviour.

    smtp-servers.py PORT DIR ADDR=MODE...

MODE: plain (no STARTTLS), stall (accepts, never speaks), garbage
(offers STARTTLS, says 220, then answers the ClientHello with text),
refuse (offers STARTTLS, answers it 454), or tls:NAME[:VER]
(STARTTLS with DIR/NAME.pem and DIR/NAME.key; VER 12 = TLSv1.2 at most,
10 = TLSv1.0/1.1 only at security level 0).  Every accepted connection
is counted: DIR/ADDR.count is rewritten with the total after each one."""
import asyncio
import os
import ssl
import sys

PORT = int(sys.argv[1])
DIR = sys.argv[2]
counts = {}


def context(name, ver):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c.set_ciphers("ALL:@SECLEVEL=0")
    if ver == "12":
        c.maximum_version = ssl.TLSVersion.TLSv1_2
    elif ver == "10":
        c.minimum_version = ssl.TLSVersion.TLSv1
        c.maximum_version = ssl.TLSVersion.TLSv1_1
    c.load_cert_chain(os.path.join(DIR, name + ".pem"), os.path.join(DIR, name + ".key"))
    return c


def handler(addr, mode):
    ctx = None
    if mode.startswith("tls:"):
        parts = mode.split(":")
        ctx = context(parts[1], parts[2] if len(parts) > 2 else "")

    async def serve(reader, writer):
        counts[addr] = counts.get(addr, 0) + 1
        path = os.path.join(DIR, addr + ".count")
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % counts[addr])
        os.replace(path + ".tmp", path)  # whole, for a reader at any moment
        try:
            if mode == "stall":
                await reader.read()  # until the client gives up
                return
            writer.write(b"220 mx.test ESMTP\r\n")
            while True:
                line = await reader.readline()
                if not line:
                    return
                cmd = line.strip().upper()
                if cmd.startswith(b"EHLO"):
                    ext = b"250-STARTTLS\r\n" if ctx or mode in ("garbage", "refuse") else b""
                    writer.write(b"250-mx.test\r\n250-PIPELINING\r\n" + ext + b"250 8BITMIME\r\n")
                elif cmd == b"STARTTLS" and ctx:
                    writer.write(b"220 2.0.0 go ahead\r\n")
                    await writer.drain()
                    await writer.start_tls(ctx)
                elif cmd == b"STARTTLS" and mode == "garbage":
                    writer.write(b"220 2.0.0 go ahead\r\n")
                    await writer.drain()
                    await reader.read(1)  # the ClientHello's first byte
                    writer.write(b"this is not TLS at all, sorry\r\n" * 4)
                    await writer.drain()
                    return
                elif cmd == b"STARTTLS" and mode == "refuse":
                    writer.write(b"454 4.7.0 TLS not available due to local problem\r\n")
                elif cmd == b"QUIT":
                    writer.write(b"221 2.0.0 bye\r\n")
                    await writer.drain()
                    return
                else:
                    writer.write(b"502 5.5.2 no\r\n")
                await writer.drain()
        except (ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    return serve


async def main():
    servers = []
    for spec in sys.argv[3:]:
        addr, mode = spec.split("=", 1)
        servers.append(await asyncio.start_server(handler(addr, mode), addr, PORT, backlog=1024))
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


asyncio.run(main())

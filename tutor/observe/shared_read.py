"""Read a list of chunks with a forked helper on the other CPU, the caller never waiting for it.

A cold snapshot spends most of its time in /proc syscalls, one process after the other, and a
thread cannot help (the GIL is handed over at every syscall). A forked child can: it reads chunks
from the end of the list while the caller reads from the start (or first does other work of its
own: *first*), and sends each chunk's result back as soon as it has it (one SOCK_SEQPACKET
message per chunk). The caller stops where it meets a chunk the child has delivered (the child
goes backwards, so every later chunk is delivered too); the one chunk they may both be reading at
the meeting point is read twice, and the caller's own result is kept.

So the caller never waits for the child: were the child never scheduled (the other CPU busy),
the caller reads every chunk itself, as it would alone, plus the fork (about a millisecond).
The child only reads: it runs *read_chunk*, sends, and leaves with os._exit; it is killed and
reaped before read_chunks returns. Results are marshalled, so *read_chunk* must return plain
data (tuples, lists, dicts, bytes, str, int, None).
"""
from __future__ import annotations

import gc
import marshal
import mmap
import os
import signal
import socket
import struct
import threading
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_INDEX = struct.Struct("=I")            # a message starts with its chunk's index
_CLAIMED = struct.Struct("=I")          # in the shared page: the caller's next chunk
_BUFFER = 1 << 20                       # room for several chunks waiting: the child rarely blocks


def read_chunks(chunks: Sequence[T], read_chunk: Callable[[T], object],
                finish: Callable[[object], R] = lambda result: result,
                first: Callable[[], None] = lambda: None) -> list[R]:
    """first(), then [finish(read_chunk(c)) for c in chunks], the reading shared with a forked
    child where that can help (see the module docstring); read here alone where it cannot: one
    chunk, one CPU, or other threads running (a fork copies only the calling thread, and what
    another one holds locked would stay locked in the child). *first* runs here while the child
    starts on the chunks: other work of the caller's that does not need them. *finish* runs
    here, on each chunk the moment it is read here (so the child takes more of the reading) or
    when it comes from the child."""
    if len(chunks) < 2 or not _worth_forking():
        return _alone(chunks, read_chunk, finish, first)
    try:
        claimed = mmap.mmap(-1, 8)          # shared with the child: the caller's next chunk
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except OSError:
        return _alone(chunks, read_chunk, finish, first)
    try:
        for sock, option in ((mine, socket.SO_RCVBUF), (theirs, socket.SO_SNDBUF)):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, _BUFFER)
            except OSError:
                pass                        # smaller buffers only make the child wait on them
        try:
            pid = os.fork()
        except OSError:
            return _alone(chunks, read_chunk, finish, first)
        if pid == 0:
            _child(chunks, read_chunk, claimed, mine, theirs)   # never returns
        theirs.close()
        try:
            first()
            return _caller(chunks, read_chunk, finish, claimed, mine)
        finally:
            _end(pid)
    finally:
        mine.close()
        theirs.close()
        claimed.close()


def _worth_forking() -> bool:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return cpus > 1 and threading.active_count() == 1


def _alone(chunks: Sequence[T], read_chunk: Callable[[T], object], finish: Callable[[object], R],
           first: Callable[[], None]) -> list[R]:
    first()
    return [finish(read_chunk(c)) for c in chunks]


def _caller(chunks: Sequence[T], read_chunk: Callable[[T], object], finish: Callable[[object], R],
            claimed: mmap.mmap, sock: socket.socket) -> list[R]:
    results: list = [None] * len(chunks)
    done = [False] * len(chunks)
    delivered: dict[int, object] = {}
    sock.setblocking(False)
    for index, chunk in enumerate(chunks):
        _CLAIMED.pack_into(claimed, 0, index)        # the child leaves this one and those before it
        _take(sock, delivered)
        if index in delivered:
            break                                    # the child has read it and every one after it
        results[index] = finish(read_chunk(chunk))
        done[index] = True
    for index, result in delivered.items():
        if not done[index]:                          # else read here too, at the meeting point
            results[index] = finish(result)
            done[index] = True
    for index in [i for i, d in enumerate(done) if not d]:   # not expected (see _take): read here
        results[index] = finish(read_chunk(chunks[index]))
    return results


def _take(sock: socket.socket, delivered: dict[int, object]) -> None:
    """Every chunk result waiting on the socket, into *delivered*. A message cut short (it cannot
    be, with these sizes) is dropped: that chunk is read by the caller."""
    while True:
        try:
            data, _ancillary, flags, _ = sock.recvmsg(_BUFFER)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if not data:
            return                                   # the child is done (or died)
        if flags & socket.MSG_TRUNC or len(data) < _INDEX.size:
            continue
        delivered[_INDEX.unpack_from(data)[0]] = marshal.loads(memoryview(data)[_INDEX.size:])


def _child(chunks: Sequence[T], read_chunk: Callable[[T], object], claimed: mmap.mmap,
           mine: socket.socket, theirs: socket.socket) -> None:
    """From the last chunk back to the first one the caller has not claimed, each one's result
    sent to it. Whatever happens, it leaves with os._exit: no atexit handler, no buffer flushed,
    nothing of the caller's run twice."""
    try:
        gc.disable()                                 # a collection would touch (and copy) the whole heap
        mine.close()
        for index in range(len(chunks) - 1, -1, -1):
            if _CLAIMED.unpack_from(claimed, 0)[0] >= index:
                break
            message = _INDEX.pack(index) + marshal.dumps(read_chunk(chunks[index]))
            if theirs.send(message) != len(message):
                break                                # a datagram is sent whole or not at all
    except BaseException:
        pass
    finally:
        os._exit(0)


def _end(pid: int) -> None:
    """Stop the child if it still runs (it only reads), and reap it."""
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass

"""Size and range limits of the protocol, enforced on both sides and reported by hello."""

# python-osc's UDP server silently drops larger datagrams; we refuse them with a fail reply.
MAX_UDP_DATAGRAM = 8192
# A TCP (SLIP) frame larger than this closes the connection: it can only be hostile.
MAX_TCP_FRAME = 65536
# A TCP connection with no accepted request, and no reply written to it, for this long is
# closed. Bytes that complete no request do not count: a drip cannot keep a connection open.
TCP_IDLE_TIMEOUT_S = 30.0
# A TCP frame must arrive whole within this many seconds of its first byte, however slowly
# or steadily its bytes come; otherwise the connection is closed.
TCP_FRAME_DEADLINE_S = 10.0
MAX_TCP_CONNECTIONS = 32
# At most this many TCP connections from one host address (loopback clients share one).
# A full listener (or host) makes room for a newcomer by closing its oldest connection that
# has not yet sent an accepted (decoded, authorized) request; with none such, it refuses.
MAX_TCP_CONNECTIONS_PER_HOST = 16
# Replies wait in a per-connection outbox written by the connection's own writer thread, so
# sending never blocks the engine. An outbox over either bound closes the connection.
MAX_TCP_OUTBOX_BYTES = 1 << 20
MAX_TCP_OUTBOX_MESSAGES = 1024
# A connection whose socket accepts no byte of a waiting reply for this long is closed.
TCP_SEND_STALL_S = 10.0

MAX_ID_CHARS = 64
MAX_PROMPT_CHARS = 1000
MAX_PATH_CHARS = 1024
MIN_BPM, MAX_BPM = 20.0, 300.0
MIN_BARS, MAX_BARS = 1, 64
# Stems x variations bound the done reply: 32 entries of ~200 bytes fit one datagram.
MAX_VARIATIONS = 4
MAX_STEMS = 8
MAX_BEST_OF = 4
# A reference or a clip to continue longer than this is refused from its header, undecoded.
MAX_INPUT_SECONDS = 600.0
MAX_GUIDANCE = 10.0
# The sampling temperature a request gets unless it asks for another. Measured on the shipped
# model (16 prompts x 2 seeds, 24 real tunes): 0.7 against 1.0 lifts the harmonic share of
# keys 0.63 -> 0.84 and bass 0.60 -> 0.70 and steadies the stereo image, while beat grid,
# key and melody following moved within their noise (see the generator's model card).
DEFAULT_TEMPERATURE = 0.7
SAMPLE_RATES = (32000, 44100, 48000, 88200, 96000)
# Each audio format a request may ask for, and the libsndfile subtype it is written as.
FORMAT_SUBTYPES = {"wav16": "PCM_16", "wav24": "PCM_24", "float32": "FLOAT"}
FORMATS = tuple(FORMAT_SUBTYPES)
# How a hummed melody meets the bars: sung freely (its own tempo and downbeat are found),
# sung to the request's click from the take's first sample, or stretched over the bars.
MELODY_TIMINGS = ("free", "click", "stretch")
STEM_NAMES = ("mix", "drums", "bass", "keys", "guitar", "strings", "pads", "lead")
# A jobs reply lists at most this many jobs (newest first) so it fits one datagram.
MAX_LISTED_JOBS = 64

# Files over TCP (protocol v2): the host uploads its inputs and fetches the clips in chunks.
# A chunk's data and fields fit one TCP frame with room to spare.
FILE_CHUNK_BYTES = 48 * 1024
# An input file (uploaded, or read from a path) larger than this is refused before reading.
MAX_INPUT_BYTES = 50 * 1024 * 1024
# One fetch request asks for at most this much. A client keeps at most two fetches in flight:
# even fully SLIP-escaped (doubled) they stay within its outbox (MAX_TCP_OUTBOX_BYTES).
FETCH_WINDOW_BYTES = 5 * FILE_CHUNK_BYTES
# What one client's uploads may hold at once on the engine (finished and unfinished).
MAX_UPLOAD_AREA_BYTES = 256 * 1024 * 1024
MAX_UPLOADS = 64
# What all clients' uploads may hold at once: clients without a client_id are one per
# connection, so the per-client bound alone would not bound the disk.
MAX_UPLOADS_TOTAL_BYTES = 2 * 1024 * 1024 * 1024
# An upload untouched for this long is removed, finished or not (a job reads it when it starts).
UPLOAD_RETENTION_S = 3600.0
MAX_FILE_NAME_CHARS = 128

-- Report rate, tempo and meter at the playhead, and the playhead as bar|beat|tick
-- (P.dir, P.snapshot, P.rate, P.playhead in samples).
start_engine (P.rate)
local session = load_session (P.dir, P.snapshot)
assert (session, "Ardour could not load the session")

local tm = Temporal.TempoMap.read ()
local at = Temporal.timepos_t (P.playhead)
local meter = tm:meter_at (at)
local bbt = tm:bbt_at (at)
emit ("rate", session:nominal_sample_rate ())
emit ("bpm", tm:quarters_per_minute_at (at))
emit ("meter", meter:divisions_per_bar (), meter:note_value ())
emit ("cursor", bbt.bars, bbt.beats, bbt.ticks)

close_session ()
emit ("done")

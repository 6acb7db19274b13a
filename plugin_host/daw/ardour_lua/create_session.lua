-- Create an empty session with the plan's rate, tempo and meter (P.dir, P.name, P.rate,
-- P.bpm, P.numerator, P.denominator).
start_engine (P.rate)
local session = create_session (P.dir, P.name, P.rate)
assert (session, "Ardour could not create the session")

local tm = Temporal.TempoMap.fetch_writable ()
-- Tempo (notes per minute, end notes per minute, note type): quarter notes, constant.
tm:set_tempo (Temporal.Tempo (P.bpm, P.bpm, 4), Temporal.timepos_t (0))
tm:set_meter (Temporal.Meter (P.numerator, P.denominator), Temporal.timepos_t (0))
Temporal.TempoMap.update (tm)

save (session)
close_session ()
emit ("done")

-- Shared by every headless Stemloom script; the host puts `P` (the plan, a table) before it.
-- Runs in ardour7-lua (luasession): no GUI, no Editor, the Dummy backend instead of hardware.

-- One line per fact, tab-separated, so the host can tell them from Ardour's own chatter.
function emit (...)
	print (table.concat ({ "STEMLOOM", ... }, "\t"))
end

-- Start the Dummy backend at the session's rate: a session only loads at its own rate.
function start_engine (rate)
	-- The Dummy backend is hidden from users by default; headless it is all there is.
	ARDOUR.config ():set_hide_dummy_backend (false)
	assert (AudioEngine:set_backend ("None (Dummy)", "", ""), "no Dummy backend")
	AudioEngine:set_sample_rate (rate)
	assert (AudioEngine:start (false) == 0, "the audio engine did not start")
end

-- BBT beats count the meter's note value; `bar` is 1-based and may be fractional.
function bar_to_bbt (tm, bar)
	local whole = math.floor (bar)
	local meter = tm:meter_at_bbt (Temporal.BBT_TIME (whole, 1, 0))
	local beats = (bar - whole) * meter:divisions_per_bar ()
	local beat = math.floor (beats)
	local ticks = math.floor ((beats - beat) * Temporal.ticks_per_beat + 0.5)
	return Temporal.BBT_TIME (whole, beat + 1, ticks)
end

function bar_to_sample (tm, bar)
	return tm:sample_at_beats (tm:quarters_at_bbt (bar_to_bbt (tm, bar)))
end

function save (session)
	-- save_state (name, pending, switch_to_snapshot, template_only, for_archive, only_used)
	assert (session:save_state ("", false, false, false, false, false) == 0, "save failed")
end

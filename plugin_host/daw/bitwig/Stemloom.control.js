// Stemloom for Bitwig Studio: type a prompt in the Studio I/O panel, press Generate, and the
// stems land on new audio tracks, one clip each in the first clip-launcher scene.
//
// The extension talks OSC to the Stemloom engine (UDP 127.0.0.1:7770, docs/protocol.md),
// asking it to answer on REPLY_PORT. It sends the project's tempo and time signature with
// the prompt (they win over tempo and meter words in the prompt), and bars and stems only
// when set: left at "from the prompt", the engine reads them (and the key) from the prompt's
// words ("acid house, 16 bars, Gm, 303 line, crisp hats"; docs/prompt-words.md). It follows
// the job's progress, and on done creates one audio track per stem and
// inserts the stem file into the track's first launcher slot. The Bitwig API offers no
// insertion point on the arranger timeline, so stems cannot be put at the play position;
// the play position is shown in the notification so they can be dragged there.

loadAPI(18);
host.setShouldFailOnDeprecatedUse(true);
host.defineController("Stemloom", "Stemloom", "0.1.0", "2b5f6c1e-8d1a-4f53-9c6e-3a1d7e5b9f20",
  "Stemloom developers");
host.defineMidiPorts(0, 0);

var ENGINE_HOST = "127.0.0.1";
var ENGINE_PORT = 7770;
var REPLY_PORT = 7790;
var TRACK_WINDOW = 128;     // tracks the extension can see, from the first one
var SETTLE_MS = 100;        // wait between checks for newly created tracks
var SETTLE_TRIES = 20;
var CATEGORY = "Stemloom";
// Bars 0 and empty stems leave them to the prompt's words; the labels say so in the panel.
var BARS_LABEL = "Bars (0: from the prompt)";
var STEMS_LABEL = "Stems (empty: from the prompt)";

var settings = {};
var transport, application, trackBank, engine;
var job = null;             // { id, position } while a request is under way

function init() {
  var documentState = host.getDocumentState();
  settings.prompt = documentState.getStringSetting("Prompt", CATEGORY, 200, "");
  settings.stems = documentState.getStringSetting(STEMS_LABEL, CATEGORY, 80, "");
  settings.bars = documentState.getNumberSetting(BARS_LABEL, CATEGORY, 0, 64, 1, "bars", 0);
  settings.prompt.markInterested();
  settings.stems.markInterested();
  settings.bars.markInterested();

  transport = host.createTransport();
  transport.tempo().value().markInterested();
  transport.timeSignature().numerator().markInterested();
  transport.timeSignature().denominator().markInterested();
  transport.getPosition().markInterested();

  application = host.createApplication();
  trackBank = host.createMainTrackBank(TRACK_WINDOW, 0, 1);
  trackBank.itemCount().markInterested();

  var osc = host.getOscModule();
  var replies = osc.createAddressSpace();
  replies.registerDefaultMethod(onReply);
  osc.createUdpServer(REPLY_PORT, replies);
  engine = osc.connectToUdpServer(ENGINE_HOST, ENGINE_PORT, null);

  documentState.getSignalSetting("Generate", CATEGORY, "Generate").addSignalObserver(generate);
  host.println("Stemloom ready: engine " + ENGINE_HOST + ":" + ENGINE_PORT);
}

function flush() {
}

function exit() {
}

// Sends the prompt to the engine at the project's tempo and time signature; bars and stems
// only when set, so that the engine reads what is left out from the prompt.
function generate() {
  var prompt = String(settings.prompt.get()).trim();
  if (prompt === "") {
    host.showPopupNotification("Stemloom: type a prompt first (Studio I/O panel)");
    return;
  }
  if (job !== null) {
    host.showPopupNotification("Stemloom: still working on the last prompt");
    return;
  }
  job = { id: "bitwig-" + Date.now().toString(36), position: transport.getPosition().get() };
  var meter = transport.timeSignature();
  sendGenerate(job.id, prompt, transport.tempo().value().getRaw(),
    meter.numerator().get() + "/" + meter.denominator().get(),
    Math.round(settings.bars.getRaw()), String(settings.stems.get()).replace(/\s+/g, ""));
  host.showPopupNotification("Stemloom: generating \u201c" + prompt + "\u201d");
}

// One /stemloom/generate; bars <= 0 and empty stems are left out. Each case is a plain call:
// sendMessage is a Java varargs method, and whether a script engine lets `apply` spread a
// JavaScript array into it is not something to rely on.
function sendGenerate(id, prompt, bpm, meter, bars, stems) {
  var address = "/stemloom/generate";
  if (bars > 0 && stems !== "") {
    engine.sendMessage(address, id, "prompt", prompt, "bpm", bpm, "time_signature", meter,
      "bars", bars, "stems", stems, "reply_port", REPLY_PORT);
  } else if (bars > 0) {
    engine.sendMessage(address, id, "prompt", prompt, "bpm", bpm, "time_signature", meter,
      "bars", bars, "reply_port", REPLY_PORT);
  } else if (stems !== "") {
    engine.sendMessage(address, id, "prompt", prompt, "bpm", bpm, "time_signature", meter,
      "stems", stems, "reply_port", REPLY_PORT);
  } else {
    engine.sendMessage(address, id, "prompt", prompt, "bpm", bpm, "time_signature", meter,
      "reply_port", REPLY_PORT);
  }
}

// Every engine reply: ack, progress, preview, done or fail (the job id comes first).
function onReply(source, message) {
  var address = message.getAddressPattern();
  var values = message.getArguments();
  var args = [];
  for (var i = 0; i < values.size(); i++) {
    args.push(values.get(i));
  }
  if (job === null || args[0] !== job.id) {
    return;
  }
  var fields = {};
  for (var k = 1; k + 1 < args.length; k += 2) {
    fields[args[k]] = args[k + 1];
  }
  if (address === "/stemloom/progress") {
    host.showPopupNotification("Stemloom: " + fields.stage + " "
      + Math.round(fields.fraction * 100) + "%");
  } else if (address === "/stemloom/fail") {
    host.showPopupNotification("Stemloom failed: " + fields.message);
    job = null;
  } else if (address === "/stemloom/done") {
    var stems = [];
    for (var key in fields) {
      if (key.indexOf("stems.") === 0) {
        stems.push({ name: key.substring(6), path: fields[key] });
      }
    }
    var position = job.position;
    job = null;
    placeStems(stems, position, used(fields));
  }
}

// What the engine used, from the done reply: "126 BPM, 4/4, 16 bars, G minor" (the bars,
// key and stems the prompt's words gave when the settings left them out).
function used(fields) {
  var parts = [];
  if (fields.bpm !== undefined) {
    parts.push((Math.round(Number(fields.bpm) * 100) / 100) + " BPM");
  }
  if (fields.time_signature) {
    parts.push(fields.time_signature);
  }
  if (fields.bars !== undefined) {
    parts.push(fields.bars + " bars");
  }
  if (fields.key) {
    parts.push(fields.key);
  }
  return parts.join(", ");
}

// New audio tracks after the last one; each gets its stem once the track bank shows it.
function placeStems(stems, position, summary) {
  var first = trackBank.itemCount().get();
  if (first + stems.length > TRACK_WINDOW) {
    host.showPopupNotification("Stemloom: more than " + TRACK_WINDOW + " tracks; stems are in "
      + stems.map(function (stem) { return stem.path; }).join(", "));
    return;
  }
  for (var i = 0; i < stems.length; i++) {
    application.createAudioTrack(first + i);
  }
  waitForTracks(stems, first, position, summary, SETTLE_TRIES);
}

function waitForTracks(stems, first, position, summary, triesLeft) {
  host.scheduleTask(function () {
    var count = trackBank.itemCount().get();
    if (count < first + stems.length) {
      if (triesLeft > 1) {
        waitForTracks(stems, first, position, summary, triesLeft - 1);
        return;
      }
      // Not all tracks appeared: remove the ones that did, so nothing half-done is left.
      for (var j = count - 1; j >= first; j--) {
        trackBank.getItemAt(j).deleteObject();
      }
      host.showPopupNotification("Stemloom: Bitwig did not create the tracks; nothing placed");
      return;
    }
    for (var i = 0; i < stems.length; i++) {
      var track = trackBank.getItemAt(first + i);
      track.name().set(stems[i].name);
      track.clipLauncherSlotBank().getItemAt(0).replaceInsertionPoint()
        .insertFile(stems[i].path);
    }
    host.showPopupNotification("Stemloom: " + stems.length + " stems in scene 1"
      + (summary ? " at " + summary : "") + " (play position " + position.toFixed(2)
      + " beats)");
  }, SETTLE_MS);
}

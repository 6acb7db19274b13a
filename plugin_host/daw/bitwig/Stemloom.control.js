// Stemloom for Bitwig Studio: type a prompt in the Studio I/O panel, press Generate, and the
// stems land on new audio tracks, one clip each in the first clip-launcher scene.
//
// The extension talks OSC to the Stemloom engine (UDP 127.0.0.1:7770, docs/protocol.md),
// asking it to answer on REPLY_PORT. It sends the project's tempo and time signature with
// the prompt, follows the job's progress, and on done creates one audio track per stem and
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

var settings = {};
var transport, application, trackBank, engine;
var job = null;             // { id, position } while a request is under way

function init() {
  var documentState = host.getDocumentState();
  settings.prompt = documentState.getStringSetting("Prompt", CATEGORY, 200, "");
  settings.stems = documentState.getStringSetting("Stems", CATEGORY, 80,
    "drums,bass,keys,lead");
  settings.bars = documentState.getNumberSetting("Bars", CATEGORY, 1, 64, 1, "bars", 8);
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

// Sends the prompt to the engine at the project's tempo and time signature.
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
  engine.sendMessage("/stemloom/generate", job.id,
    "prompt", prompt,
    "bpm", transport.tempo().value().getRaw(),
    "bars", Math.round(settings.bars.getRaw()),
    "time_signature", meter.numerator().get() + "/" + meter.denominator().get(),
    "stems", String(settings.stems.get()).replace(/\s+/g, ""),
    "reply_port", REPLY_PORT);
  host.showPopupNotification("Stemloom: generating \u201c" + prompt + "\u201d");
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
    placeStems(stems, position);
  }
}

// New audio tracks after the last one; each gets its stem once the track bank shows it.
function placeStems(stems, position) {
  var first = trackBank.itemCount().get();
  if (first + stems.length > TRACK_WINDOW) {
    host.showPopupNotification("Stemloom: more than " + TRACK_WINDOW + " tracks; stems are in "
      + stems.map(function (stem) { return stem.path; }).join(", "));
    return;
  }
  for (var i = 0; i < stems.length; i++) {
    application.createAudioTrack(first + i);
  }
  waitForTracks(stems, first, position, SETTLE_TRIES);
}

function waitForTracks(stems, first, position, triesLeft) {
  host.scheduleTask(function () {
    var count = trackBank.itemCount().get();
    if (count < first + stems.length) {
      if (triesLeft > 1) {
        waitForTracks(stems, first, position, triesLeft - 1);
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
    host.showPopupNotification("Stemloom: " + stems.length + " stems in scene 1 (play position "
      + position.toFixed(2) + " beats)");
  }, SETTLE_MS);
}

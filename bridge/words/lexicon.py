"""The words producers use for instruments, each mapped to the stem the model makes of it.

The families follow the instruments the model learned each stem from
(``engine/corpus/instruments.py``: choir and harp sit with strings, steel drums and horns
play the lead, synth brass is a pad); a test keeps the two in step. Phrases are matched
longest first, so a qualified word follows its qualifier ("synth bass" is bass, "808 drums"
are drums, "lead guitar" is lead).
"""

from __future__ import annotations

STEM_WORDS: dict[str, tuple[str, ...]] = {
    "drums": (
        "drums", "drum", "drummer", "drum kit", "kit", "beat", "beats", "breakbeat", "breakbeats",
        "breaks", "amen break", "kick", "kicks", "kick drum", "bass drum", "snare", "snares",
        "hats", "hi-hats", "hi-hat", "hihats", "hihat", "hi hats", "hi hat", "open hats", "cymbal",
        "cymbals", "ride cymbal", "crash cymbal", "toms", "claps", "clap", "handclaps", "snaps",
        "finger snaps", "shaker", "shakers", "tambourine", "congas", "conga", "bongos", "bongo",
        "cajon", "tabla", "djembe", "timbales", "percussion", "percussive", "perc", "percs",
        "drum machine", "808 drums", "808 kit", "808 hats", "808 snare", "808 claps",
        "808 cowbell", "808 drum machine", "909", "909s", "909 drums", "tr-909", "tr909",
        "tr-808 drums", "707", "linndrum", "rimshot", "rimshots", "cowbell", "brushes",
        "brushed drums", "taiko", "timpani", "drum loop", "drum break", "drumline", "trap hats",
        "four on the floor", "4 on the floor", "backbeat", "boom bap drums", "drumming",
        "woodblock", "triangle", "guiro", "maracas", "claves", "agogo",
    ),
    "bass": (
        "bass", "basses", "bassline", "basslines", "bass line", "bass lines", "bassist", "sub",
        "subs", "sub bass", "sub-bass", "808", "808s", "808 bass", "808 line", "tr-808", "303",
        "303 line", "303 bass", "tb-303", "acid line", "acid bassline", "reese", "reese bass",
        "moog bass", "synth bass", "synth-bass", "upright bass", "upright", "double bass",
        "contrabass", "acoustic bass", "slap bass", "fretless", "fretless bass", "bass guitar",
        "electric bass", "tuba", "wobble bass", "wobble", "wobbles", "low end", "sousaphone",
        "walking bass", "bass synth", "finger bass", "picked bass", "slidey 808s", "sliding 808s",
    ),
    "keys": (
        "piano", "pianos", "pianist", "keys", "keyboard", "keyboards", "rhodes", "fender rhodes",
        "wurlitzer", "wurli", "electric piano", "e-piano", "ep", "eps", "clav", "clavinet",
        "organ", "organs", "hammond", "b3", "hammond organ", "church organ", "harpsichord",
        "vibes", "vibraphone", "marimba", "xylophone", "glockenspiel", "glock", "celesta",
        "celeste", "music box", "kalimba", "mbira", "mallets", "chords", "chord", "chord stabs",
        "stabs", "stab", "comping", "arps", "arp", "arpeggio", "arpeggios", "arpeggiator",
        "arpeggiated synth", "bells", "bell", "grand piano", "upright piano", "toy piano",
        "felt piano", "honky-tonk piano", "keyboardist", "mellotron", "dulcimer",
        "chord progression", "steel pan chords", "plucks", "pluck", "synth plucks", "organ stabs",
        "piano chords", "synth stabs",
    ),
    "guitar": (
        "guitar", "guitars", "guitarist", "acoustic guitar", "electric guitar", "nylon",
        "nylon guitar", "nylon-string guitar", "classical guitar", "banjo", "mandolin", "ukulele",
        "uke", "sitar", "bouzouki", "power chords", "guitar chords", "strat", "stratocaster",
        "telecaster", "tele", "twangy guitar", "rhythm guitar", "slide guitar", "pedal steel",
        "steel guitar", "riffs", "riff", "guitar riff", "guitar riffs", "chugs", "chugging",
        "strumming", "strummed", "fingerpicking", "fingerpicked", "oud", "koto", "shamisen",
        "lute", "balalaika", "charango", "dobro", "12-string", "jangly guitars", "wah guitar",
        "muted guitar", "funk guitar", "chicken-scratch guitar",
    ),
    "strings": (
        "strings", "string section", "string quartet", "string ensemble", "orchestra",
        "orchestral", "violin", "violins", "fiddle", "fiddles", "viola", "violas", "cello",
        "cellos", "cellist", "violinist", "pizzicato", "pizz", "harp", "harps", "choir", "choirs",
        "string pads", "string pad", "legato strings", "synth strings", "staccato strings", "erhu",
        "string swells", "chamber strings", "orchestral strings", "spiccato strings",
        "tremolo strings",
    ),
    "pads": (
        "pad", "pads", "synth pad", "synth pads", "atmosphere", "atmospheres", "atmospherics",
        "drone", "drones", "wash", "washes", "synths", "synth", "synthesizer", "synthesizers",
        "synth brass", "swells", "ambience", "soundscape", "soundscapes", "texture", "textures",
        "warm pads", "lush pads",
        "juno pads", "juno", "supersaws", "supersaw", "polysynth", "analog synths",
        "evolving pads", "synth chords",
    ),
    "lead": (
        "lead", "leads", "lead line", "melody", "melodies", "melodic line", "hook", "hooks",
        "topline", "top line", "solo", "solos", "horns", "horn", "horn section", "horn stabs",
        "horn riff", "brass", "brass section", "trumpet", "trumpets", "trombone", "trombones",
        "french horn", "flugelhorn", "cornet", "sax", "saxophone", "saxes", "alto sax",
        "tenor sax", "bari sax", "soprano sax", "flute", "flutes", "pan flute", "pan pipes",
        "panpipes", "piccolo", "clarinet", "oboe", "bassoon", "recorder", "whistle", "whistling",
        "tin whistle", "harmonica", "blues harp", "accordion", "bandoneon", "voice", "voices",
        "vocal", "vocals", "vox", "vocal chops", "vocal chop", "chops", "oohs", "aahs", "singer",
        "singing", "vocalist", "humming", "steel drums", "steel drum", "steelpan", "steel pan",
        "lead guitar", "guitar solo", "shredding", "shred", "saxophonist", "trumpeter", "theremin",
        "ocarina", "bagpipes", "duduk", "shakuhachi", "kazoo", "vocal line", "counter melody",
        "countermelody",
    ),
}

# A word near a known one (a typo) is read as it: only words this long, this close.
FUZZY_MIN_LETTERS = 6
# Everyday words a typo match would misread ("record" is not a recorder).
NOT_TYPOS = frozenset({"record", "records", "string", "starting", "organic", "leader"})
FUZZY_CUTOFF = 0.85  # "marimbah" 0.93, "ukelele" 0.86; "starting"/"strings" 0.80

# Words for a part's role rather than an instrument: next to an instrument they only say what
# it plays ("piano melody" is keys, "sax hook" is lead); alone they name their own stem.
ROLE_WORDS = frozenset({
    "melody", "melodies", "hook", "hooks", "topline", "solo", "solos", "riff", "riffs",
    "chords", "chord", "stabs", "stab", "arps", "arp", "arpeggios", "plucks", "pluck",
})
# "lead" beside an instrument makes it the lead ("bell lead", "lead guitar", "piano lead").
LEAD_WORDS = frozenset({"lead", "leads"})
# Genre names and phrases whose instrument words name no instrument ("drum and bass").
NOT_INSTRUMENTS = frozenset({
    "drum and bass", "drum & bass", "drum n bass", "drum'n'bass", "drum 'n' bass",
    "drum-and-bass", "drum n' bass", "bass house", "bass music", "future bass", "melodic bass",
    "synth pop", "synth-pop", "big beat", "bassline house", "beats per minute", "beat tape",
    "beat maker", "beatmaker", "off-beat", "offbeat", "on the beat", "keys of", "key of",
    "string of", "lead up", "lead-up", "lead in", "lead-in", "piano key", "skank",
})

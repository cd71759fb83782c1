"""Stimulus timelines: TextGrid (long/short, UTF-8/16), BIDS events, word tables, lists, runs."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from brainalign.core import BrainalignInputError, Timeline
from brainalign.stimuli import (
    audio_stimulus_list,
    concatenate,
    image_stimulus_list,
    list_textgrid_tiers,
    read_events_tsv,
    read_textgrid,
    read_word_table,
)

ALICE_TEXTGRID = "alice_brennan2016/stimuli/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid"

LONG = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 2.0
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 2.0
        intervals: size = 4
        intervals [1]:
            xmin = 0
            xmax = 0.5
            text = "sil"
        intervals [2]:
            xmin = 0.5
            xmax = 1.0
            text = "say ""hi"""
        intervals [3]:
            xmin = 1.0
            xmax = 1.5
            text = "café"
        intervals [4]:
            xmin = 1.5
            xmax = 2.0
            text = ""
    item [2]:
        class = "TextTier"
        name = "beeps"
        xmin = 0
        xmax = 2.0
        points: size = 1
        points [1]:
            number = 0.25
            mark = "beep"
'''

SHORT = '''File type = "ooTextFile"
Object class = "TextGrid"

0
2.0
<exists>
2
"IntervalTier"
"words"
0
2.0
4
0
0.5
"sil"
0.5
1.0
"say ""hi"""
1.0
1.5
"café"
1.5
2.0
""
"TextTier"
"beeps"
0
2.0
1
0.25
"beep"
'''


@pytest.mark.parametrize("text", [LONG, SHORT], ids=["long", "short"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_textgrid_formats_and_encodings(tmp_path, text, encoding):
    path = tmp_path / "toy.TextGrid"
    path.write_bytes(text.encode(encoding))  # Python's utf-16 writes a BOM, like Praat
    tl = read_textgrid(path, tier="words", run="story")
    assert list(tl.tokens) == ['say "hi"', "café"]
    assert tl.onsets.tolist() == [0.5, 1.0] and tl.offsets.tolist() == [1.0, 1.5]
    assert tl.run_ids == ["story"]
    beeps = read_textgrid(path, tier="beeps")
    assert list(beeps.tokens) == ["beep"] and beeps.onsets.tolist() == [0.25]
    assert list_textgrid_tiers(path) == {"words": 4, "beeps": 1}


def test_textgrid_tier_errors(tmp_path):
    path = tmp_path / "toy.TextGrid"
    path.write_text(LONG, encoding="utf-8")
    assert read_textgrid(path).n_events == 2  # two tiers: "words" is picked by name
    with pytest.raises(BrainalignInputError, match=r"no tier named 'phones'.*'words'.*'beeps'"):
        read_textgrid(path, tier="phones")
    with pytest.raises(BrainalignInputError, match="no events left after skipping"):
        read_textgrid(path, tier="words", skip_labels=("sil", "", 'say "hi"', "café"))


def test_textgrid_truncated_and_unsorted(tmp_path):
    truncated = tmp_path / "cut.TextGrid"
    truncated.write_text(LONG[: LONG.index("intervals [3]")], encoding="utf-8")
    with pytest.raises(BrainalignInputError, match=r"cut\.TextGrid ends early"):
        read_textgrid(truncated)
    unsorted = tmp_path / "unsorted.TextGrid"
    unsorted.write_text(SHORT.replace("1.0\n1.5\n\"café\"", "0.2\n0.4\n\"café\""), encoding="utf-8")
    with pytest.raises(BrainalignInputError, match=r"unsorted\.TextGrid.*not sorted.*'café'"):
        read_textgrid(unsorted, tier="words")
    not_textgrid = tmp_path / "x.TextGrid"
    not_textgrid.write_text("hello world\n")
    with pytest.raises(BrainalignInputError, match="x.TextGrid"):
        read_textgrid(not_textgrid)


def test_alice_textgrid_words_and_word_rate(shared_data):
    from nilearn.glm.first_level import compute_regressor

    tl = read_textgrid(shared_data / ALICE_TEXTGRID)
    assert tl.n_events == 2127
    assert tl.tokens[0] == "Alice"
    scan = tl.shift(-20.0)
    frame_times = np.arange(362) * 2.0
    conditions = np.vstack([scan.onsets, np.zeros(scan.n_events), np.ones(scan.n_events)])
    regressor, _ = compute_regressor(conditions, "spm", frame_times, oversampling=20)
    published = np.loadtxt(shared_data / "alice_brennan2016/s18-rate.txt")
    r = np.corrcoef(regressor[:, 0], published)[0, 1]
    assert r > 0.95
    # Without the 20 s padding offset the match is lost: the check has teeth.
    unshifted, _ = compute_regressor(
        np.vstack([tl.onsets, np.zeros(tl.n_events), np.ones(tl.n_events)]), "spm", frame_times, oversampling=20
    )
    assert np.corrcoef(unshifted[:, 0], published)[0, 1] < r - 0.1


def test_events_tsv(tmp_path, shared_data):
    path = tmp_path / "sub-01_task-x_events.tsv"
    path.write_text(
        "onset\tduration\ttrial_type\tword\n"
        "0.5\t0.3\tword\tHello\n"
        "1.0\tn/a\tbeep\tn/a\n"
        "1.5\t0.4\tword\tthere\n"
    )
    words = read_events_tsv(path, run="run-2")
    assert list(words.tokens) == ["Hello", "there"] and words.run_ids == ["run-2"]
    np.testing.assert_allclose(words.offsets, [0.8, 1.9])
    types = read_events_tsv(path, token_col="trial_type")
    assert list(types.tokens) == ["word", "beep", "word"]
    assert types.durations[1] == 0.0  # n/a duration = instantaneous event
    assert read_events_tsv(path, token_col="trial_type", trial_types=["beep"]).n_events == 1
    with pytest.raises(BrainalignInputError, match=r"trial type\(s\) \['face'\] do not occur"):
        read_events_tsv(path, trial_types=["face"])
    with pytest.raises(BrainalignInputError, match="no column 'stim_file'"):
        read_events_tsv(path, token_col="stim_file")

    bad = tmp_path / "bad_events.tsv"
    bad.write_text("onset\tduration\ttrial_type\n3.0\t1\ta\n1.0\t1\tb\n")
    with pytest.raises(BrainalignInputError, match=r"bad_events\.tsv.*not sorted"):
        read_events_tsv(bad)
    no_onset = tmp_path / "no_onset.tsv"
    no_onset.write_text("onset\tduration\ttrial_type\nn/a\t1\ta\n")
    with pytest.raises(BrainalignInputError, match="row 1 has no onset"):
        read_events_tsv(no_onset)

    haxby = read_events_tsv(
        shared_data / "haxby2001_subset/haxby2001/sub001/BOLD/task001_run001/bold_events.tsv"
    )
    assert haxby.n_events == 8 and "face" in set(haxby.tokens)
    np.testing.assert_allclose(haxby.durations, 22.5)


def test_word_table(tmp_path):
    path = tmp_path / "words.csv"
    path.write_text("Word,Start,Duration,run\nOnce,0.1,0.3,a\nupon,0.4,0.2,a\ntime,0.2,0.5,b\n")
    tl = read_word_table(path)
    assert tl.run_ids == ["a", "b"] and list(tl.tokens) == ["Once", "upon", "time"]
    np.testing.assert_allclose(tl.offsets, [0.4, 0.6, 0.7])
    tsv = tmp_path / "words.tsv"
    tsv.write_text("token\tonset\toffset\nA\t0\t1\nB\tx\t2\n")
    with pytest.raises(BrainalignInputError, match=r"column 'onset' must be numeric.*row 2"):
        read_word_table(tsv)
    awkward = tmp_path / "awkward.tsv"
    awkward.write_text("word\tonset\toffset\nNA\t0\t1\nnull\t1\t2\nNaN\t2\t3\n")
    assert list(read_word_table(awkward).tokens) == ["NA", "null", "NaN"]  # words, not missing values
    no_token = tmp_path / "n.csv"
    no_token.write_text("onset,offset\n0,1\n")
    with pytest.raises(BrainalignInputError, match="no token column"):
        read_word_table(no_token)


def test_image_and_audio_lists(tmp_path):
    images = [tmp_path / f"im{i}.png" for i in range(3)]
    for im in images:
        im.write_bytes(b"")
    tl = image_stimulus_list(images, [0.0, 2.0, 4.0], 1.5, run="run-1")
    assert tl.tokens[0] == str(images[0]) and tl.offsets.tolist() == [1.5, 3.5, 5.5]
    with pytest.raises(FileNotFoundError, match="missing.png"):
        image_stimulus_list([tmp_path / "missing.png"], [0.0])
    with pytest.raises(BrainalignInputError, match="not sorted"):
        image_stimulus_list(images, [2.0, 0.0, 4.0])

    wav = tmp_path / "tone.wav"
    with wave.open(str(wav), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(8000)
        fh.writeframes(np.zeros(12000, dtype=np.int16).tobytes())
    sounds = audio_stimulus_list([wav, wav], [0.0, 3.0])
    np.testing.assert_allclose(sounds.durations, [1.5, 1.5])
    notwav = tmp_path / "x.wav"
    notwav.write_bytes(b"not a wav")
    with pytest.raises(BrainalignInputError, match="pass durations="):
        audio_stimulus_list([notwav], [0.0])


def test_concatenate_runs_and_offsets():
    a = Timeline(["x", "y"], [21.0, 22.0])
    b = Timeline(["z"], [5.0])
    tl = concatenate([a, b], runs=["story1", "story2"], offsets=[-20.0, 0.0])
    assert tl.run_ids == ["story1", "story2"]
    assert tl.onsets.tolist() == [1.0, 2.0, 5.0]
    tl2 = concatenate({"r1": a, "r2": b}, offsets={"r1": -20.0})
    assert tl2.onsets.tolist() == [1.0, 2.0, 5.0]
    with pytest.raises(BrainalignInputError, match="repeat"):
        concatenate([a, b], runs=["r", "r"])
    with pytest.raises(BrainalignInputError, match="unknown run"):
        concatenate([a, b], runs=["r1", "r2"], offsets={"r3": 1.0})

"""What brainalign knows about each dataset: source, licence, citation, sampling, files, checksums.

The long-form description of each entry is its card, ``datasets/<name>.md``
at the top of the repository.  ``sha256`` values marked as coming from the
shared copy are the checksums of the files the test-suite reads; files
without a known checksum are fetched unchecked and their hash is logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it lives in the local folder and where to get it.

    ``url=None`` means there is no stable direct link: download it by hand
    from the dataset's landing page.
    """

    path: str
    url: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    landing_url: str
    licence: str
    citation: str
    modality: str  # "fmri", "fmri-roi", "meg", "eeg", "fmri-betas"
    folder: str  # sub-folder of the data home
    tr: float | None = None
    sfreq: float | None = None
    files: tuple[RemoteFile, ...] = ()
    shared_folder: str | None = None  # name under $BRAINALIGN_SHARED_DATA when a copy is there
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def card(self) -> str:
        return f"datasets/{self.name}.md"


_OPENNEURO_S3 = "https://s3.amazonaws.com/openneuro.org"


def _openneuro_files(dataset_id: str, *paths: str) -> tuple[RemoteFile, ...]:
    """Files of an OpenNeuro dataset, fetched from its public S3 bucket at the same relative paths."""
    return tuple(RemoteFile(path, f"{_OPENNEURO_S3}/{dataset_id}/{path}") for path in paths)

_ALICE_SHA = {
    "stimuli/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid": "f42484c61db089132eaa0ed633468f04709669b89bbfbc712282c1478e2bd6b3",
    "6mm/s18-timecourses.txt": "0c286ab2c70fa71e4bc68eabaa4421ed18f54f06e8bab55cc83bb471b02fefaa",
    "6mm/s33-timecourses.txt": "6fe19447cd790deb4171814e2b5d55d958997642bc479d13f7c40d03aeebd7c4",
    "s18-rate.txt": "bdd7b6eff8f9866c69fd190eb338ae60699300e1badb79087c08ecb2e5b53e62",
    "s18-sndpwr.txt": "55aea9caa1eeafb20221bbb7822e48ee6998e20f171913203132ee11e3bf4dd1",
    "s18-rp_epiRTwm2_scan_0004__003.txt": "efd5fc39f149267ce3ef670671c06dce0fced5b88a8f0a0ac3050daa91ee80d6",
    "sept18-generic-predictors-under-hrf-with-logfrqhal.txt": "0b3edb01e8531aed8091b13e4f46cfdf630e0ec21b8758b54076de5c56f028e4",
}

REGISTRY: dict[str, DatasetInfo] = {}


def _register(info: DatasetInfo) -> None:
    REGISTRY[info.name] = info


_register(
    DatasetInfo(
        name="alice_brennan2016",
        title="Alice in Wonderland story listening, fMRI ROI time courses (Brennan et al. 2016)",
        landing_url="https://sites.lsa.umich.edu/cnllab/2016/06/11/data-sharing-fmri-timecourses-story-listening/",
        licence="CC BY 4.0",
        citation=(
            "Brennan, J. R., Stabler, E. P., Van Wagenen, S. E., Luh, W.-M., & Hale, J. T. (2016). Abstract "
            "linguistic structure correlates with temporal activity during naturalistic comprehension. "
            "Brain and Language, 157-158, 81-94."
        ),
        modality="fmri-roi",
        folder="alice_brennan2016",
        tr=2.0,
        files=tuple(RemoteFile(p, None, h) for p, h in _ALICE_SHA.items()),
        shared_folder="alice_brennan2016",
        notes="TR inferred (372 volumes x 2 s = 744 s = TextGrid end); TextGrid time - 20 s = scan time.",
    )
)
_register(
    DatasetInfo(
        name="narratives",
        title="Narratives: fMRI of 345 people listening to 27 spoken stories (Nastase et al. 2021)",
        landing_url="https://openneuro.org/datasets/ds002345",
        licence="CC0 1.0",
        citation=(
            "Nastase, S. A., Liu, Y.-F., Hillman, H., et al. (2021). The 'Narratives' fMRI dataset for "
            "evaluating models of naturalistic language comprehension. Scientific Data, 8, 250."
        ),
        modality="fmri",
        folder="narratives",
        tr=1.5,
        files=_openneuro_files(
            "ds002345",
            "participants.tsv",
            "dataset_description.json",
            "code/task_meta.json",
            "stimuli/gentle/pieman/align.csv",
        ),
        notes="BIDS; preprocessed data under derivatives/ (afni-smooth, afni-nosmooth, fmriprep).",
    )
)
_register(
    DatasetInfo(
        name="lebel2023",
        title="Natural-language fMRI for voxelwise encoding models, 8 people x 27+ stories (LeBel et al. 2023)",
        landing_url="https://openneuro.org/datasets/ds003020",
        licence="CC0 1.0",
        citation=(
            "LeBel, A., Wagner, L., Jain, S., et al. (2023). A natural language fMRI dataset for voxelwise "
            "encoding models. Scientific Data, 10, 555."
        ),
        modality="fmri",
        folder="lebel2023",
        tr=2.0045,
        files=_openneuro_files(
            "ds003020",
            "participants.tsv",
            "dataset_description.json",
            "derivative/respdict.json",
            "derivative/TextGrids/wheretheressmoke.TextGrid",
        ),
        notes="Preprocessed responses in derivative/preprocessed_data/UTS0N/<story>.hf5 (HDF5).",
    )
)
_register(
    DatasetInfo(
        name="pereira2018",
        title="Sentence-level fMRI responses for decoding linguistic meaning (Pereira et al. 2018)",
        landing_url="https://osf.io/crwz7/",
        licence="see the OSF project page (not stated in the article); check before redistributing",
        citation=(
            "Pereira, F., Lou, B., Pritchett, B., et al. (2018). Toward a universal decoder of linguistic "
            "meaning from brain activation. Nature Communications, 9, 963."
        ),
        modality="fmri-betas",
        folder="pereira2018",
        files=(
            RemoteFile("stimuli_243sentences.txt", None,
                       "ed524b56872fd5107bcd11260eea5a312eea1b095db8faf591495b0525e797ae"),
            RemoteFile("stimuli_384sentences.txt", None,
                       "ffccef442608de624da943b9c52f8b348c737ff5ace2f1ff2dfec56cf579dfdc"),
        ),
        shared_folder="pereira2018_sentences",
        notes="One response image (beta) per sentence in MATLAB files per participant; no time series.",
    )
)
_register(
    DatasetInfo(
        name="meg_masc",
        title="MEG-MASC: 27 people listening to 2 h of stories, 208-channel KIT MEG (Gwilliams et al. 2023)",
        landing_url="https://osf.io/ag3kj/",
        licence="CC0 1.0 (as listed by the NEMAR mirror; confirm on OSF)",
        citation=(
            "Gwilliams, L., Flick, G., Marantz, A., Pylkkänen, L., Poeppel, D., & King, J.-R. (2023). "
            "Introducing MEG-MASC a high-quality magneto-encephalography dataset for evaluating natural "
            "speech processing. Scientific Data, 10, 862."
        ),
        modality="meg",
        folder="meg_masc",
        sfreq=1000.0,
        notes="BIDS; word and phoneme onsets in events.tsv; raw KIT .con files, 2 sessions x 4 stories.",
    )
)
_register(
    DatasetInfo(
        name="broderick2018",
        title="Natural-speech EEG, 128 channels, 'The Old Man and the Sea' (Broderick et al. 2018)",
        landing_url="https://doi.org/10.5061/dryad.070jc",
        licence="CC0 1.0 (Dryad)",
        citation=(
            "Broderick, M. P., Anderson, A. J., Di Liberto, G. M., Crosse, M. J., & Lalor, E. C. (2018). "
            "Electrophysiological correlates of semantic dissimilarity reflect the comprehension of natural, "
            "narrative speech. Current Biology, 28(5), 803-809."
        ),
        modality="eeg",
        folder="broderick2018",
        sfreq=128.0,
        notes="MATLAB files per subject and run (20 runs of ~180 s); word onsets in Stimuli/Text/*.mat.",
    )
)
_register(
    DatasetInfo(
        name="haxby2001_subset",
        title="Haxby et al. (2001) visual categories, PyMVPA one-slice subset (block design, 12 runs)",
        landing_url="http://www.pymvpa.org/datadb/tutorial_data.html",
        licence="CC BY-SA 3.0 (per PyMVPA's documentation)",
        citation=(
            "Haxby, J. V., Gobbini, M. I., Furey, M. L., Ishai, A., Schouten, J. L., & Pietrini, P. (2001). "
            "Distributed and overlapping representations of faces and objects in ventral temporal cortex. "
            "Science, 293, 2425-2430."
        ),
        modality="fmri",
        folder="haxby2001_subset",
        tr=2.5,
        files=(
            RemoteFile("bold.nii.gz", None, "cbbd4d07803caaa9f77381af24e790cf77058664a128bd514a4c1668eefb92d7"),
            RemoteFile("mask.nii.gz", None, "8d879d35aaeee3afddfb69a7e1b8dd2b3be446671452d7e841dc6588845f2877"),
            RemoteFile("attributes_literal.txt", None,
                       "7769f235e93d3157ef7bd1102abfaf3bc058ad9ca28e89dc60b8e47f473207c3"),
        ),
        shared_folder="haxby2001_subset",
    )
)
_register(
    DatasetInfo(
        name="eeglab_tutorial",
        title="EEGLAB tutorial recording, 32-channel EEG at 128 Hz (Makeig et al. 1999), MNE testing copy",
        landing_url="https://github.com/mne-tools/mne-testing-data",
        licence="EEGLAB sample data as redistributed in mne-testing-data (see those projects for terms)",
        citation=(
            "Makeig, S., Westerfield, M., Jung, T.-P., et al. (1999). Functionally independent components of "
            "the late positive event-related potential during visual spatial attention. J Neurosci, 19, 2665-2680."
        ),
        modality="eeg",
        folder="eeglab_tutorial",
        sfreq=128.0,
        files=(
            RemoteFile("test_raw.set", None, "95593d49974d3ce8b0bd37e086536b9cedcf0abf38f2453092fd88de0bbde18e"),
            RemoteFile("test_raw.fdt", None, "3ec388b9a080c723c00cd380403d64cc754929d828375bbd53bd83b468136759"),
        ),
        shared_folder="eeglab_tutorial",
    )
)


def get_dataset_info(name: str) -> DatasetInfo:
    """Registry entry of ``name`` (raises listing the known names)."""
    if name not in REGISTRY:
        raise KeyError(f"Unknown dataset {name!r}; known datasets are {sorted(REGISTRY)}.")
    return REGISTRY[name]


def list_datasets() -> list[str]:
    return sorted(REGISTRY)

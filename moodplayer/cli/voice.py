"""``moodplayer voice``: enrol, inspect and reset voice profiles."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from moodplayer.cli.app import app
from moodplayer.cli.common import DEVICE_HELP, JSON_HELP, device_arg
from moodplayer.ui.views import count

voice_app = typer.Typer(help="Teach moodplayer how your voice usually sounds (no labels needed).", no_args_is_help=True)
app.add_typer(voice_app, name="voice")

PROFILE_HELP = "Profile name (default: $MOODPLAYER_PROFILE or 'default'), e.g. one per person."

SENTENCES = (
    "The train to the city leaves at nine in the morning.",
    "Please put the blue folder on the table by the window.",
    "We walked along the river and talked about the weekend.",
    "The library closes early on Sundays and holidays.",
    "My neighbour bought a new bicycle last spring.",
    "There are three cups and a kettle in the kitchen.",
)
TRIES_PER_SENTENCE = 3


@voice_app.command()
def enroll(
    profile: str | None = typer.Option(None, "--profile", "-p", help=PROFILE_HELP),
    sentences: int = typer.Option(
        5, "--sentences", "-n", min=4, max=len(SENTENCES), help="How many sentences to read."
    ),
    seconds: float = typer.Option(8.0, "--seconds", min=3.0, max=20.0, help="Longest recording per sentence."),
    device: str | None = typer.Option(None, "--device", "-d", help=DEVICE_HELP),
) -> None:
    """Read a few neutral sentences (about 20 s of speech) to build your voice profile.

    A sentence that comes out silent, clipped, too short or too noisy is
    refused with the reason, and you read it again. The new profile replaces
    the old one only once every sentence is recorded. The microphone is
    checked before the first sentence is shown.
    """
    from moodplayer.ui.console import err, out
    from moodplayer.ui.meter import record_with_meter
    from moodplayer.voice import profiles
    from moodplayer.voice.audio import speech_only
    from moodplayer.voice.capture import check_input
    from moodplayer.voice.classifier import Classifier

    check_input(device_arg(device))
    name = profiles.active_name(profile)
    classifier = Classifier.load()  # the profile is the model's: its features, what its batch norms hear
    config = classifier.features
    fresh = profiles.new_profile(name, config)
    clips = []
    for number, sentence in enumerate(SENTENCES[:sentences], start=1):
        err.print(f"\n[bold]{number}/{sentences}[/] read in your usual voice: [italic]“{sentence}”[/]")
        samples = _record_good_take(
            lambda: record_with_meter(seconds, device=device_arg(device)), profiles.enrolment_problem
        )
        speech = speech_only(samples)
        fresh.add(speech, config, enrolment=True)
        clips.append(speech)
    profiles.gather_norms(fresh, clips, classifier)
    profiles.reset_profile(name)
    for number, speech in enumerate(clips, start=1):
        profiles.save_clip(name, speech, number)
    profiles.save_profile(fresh)
    out.print(f"voice profile '{name}': {count(fresh.clips, 'sentence')}, {fresh.seconds:.1f} s of speech")


def _record_good_take(record, problem_of):
    """Record until a take passes the checks; give up after a few tries."""
    from moodplayer.errors import MoodplayerError
    from moodplayer.ui.console import warn

    for attempt in range(1, TRIES_PER_SENTENCE + 1):
        samples = record()
        problem = problem_of(samples)
        if problem is None:
            return samples
        if attempt < TRIES_PER_SENTENCE:
            warn(f"{problem}; please read it again")
    raise MoodplayerError(f"enrolment stopped: {problem} ({TRIES_PER_SENTENCE} tries)")


@voice_app.command()
def show(
    profile: str | None = typer.Option(None, "--profile", "-p", help=PROFILE_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    plot: Path | None = typer.Option(
        None, "--plot", help="Draw the voice's average spectrum, against the training speakers', to this PNG."
    ),
) -> None:
    """How much speech a profile holds and where the voice sits among the model's training speakers.

    Also since when it has been gathered and whether it is in use yet."""
    import numpy as np

    from moodplayer.errors import MoodplayerError
    from moodplayer.ui.console import out
    from moodplayer.voice import profiles
    from moodplayer.voice.features import FeatureConfig

    name = profiles.active_name(profile)
    metadata = model_metadata()
    config = FeatureConfig.from_dict(metadata["features"])
    voices = metadata.get("training_voices") or {}
    found = profiles.load_profile(name, config)
    if found is None:
        raise MoodplayerError(f"no voice profile '{name}'; create one with: moodplayer voice enroll")
    summary = {
        "profile": found.name,
        "clips": found.clips,
        "seconds": found.seconds,
        "since": found.created,
        "updated": found.updated,
        "in_use": found.usable,
        "needs_seconds": profiles.MIN_SECONDS,
        "adapts_model": found.usable and found.norms_for(metadata["weights_sha256"]) is not None,
        "trust": found.trust_for(metadata["weights_sha256"]),
        "agreed": found.agreed,
        "compared": found.compared,
    }
    if config.pitch and found.stats.count:
        summary["pitch_hz"] = round(float(np.exp(found.stats.mean[config.n_mels])), 1)
    if plot is not None:
        draw_spectrum(found, plot, config.n_mels, voices)
    if as_json:
        print(json.dumps(summary), flush=True)
        return
    state = "in use" if found.usable else f"not used until it holds {profiles.MIN_SECONDS:.0f} s of speech"
    if summary["adapts_model"]:
        state += ", the model's batch norms moved to this voice"
    trust = _trust_text(found, metadata["weights_sha256"])
    if found.usable and trust:
        state += f"; {trust}"
    out.print(
        f"voice profile '{found.name}': {count(found.clips, 'clip')}, {found.seconds:.1f} s of speech, "
        f"since {found.created[:10]}, updated {found.updated[:16].replace('T', ' ')}; {state}"
    )
    if "pitch_hz" in summary and voices.get("pitch_hz"):
        trained = voices["pitch_hz"]
        out.print(
            f"typical pitch {summary['pitch_hz']:.0f} Hz; the model's {count(len(trained), 'training speaker')}: "
            f"{trained[0]:.0f}–{trained[-1]:.0f} Hz"
        )


def _trust_text(found, model_id: str) -> str | None:
    """How far the model in force uses the profile, and why (profiles.VoiceProfile.trust_for);
    None while too few clips were heard both ways to tell (the profile is then used fully)."""
    if not found.trust_known(model_id):
        return None
    trust = found.trust_for(model_id)
    agreed = f"both hearings agree on {found.agreed} of {count(found.compared, 'clip')}"
    if trust == 0:
        return f"set aside ({agreed}): this voice is judged as at cold start"
    return f"trusted {trust:.0%} ({agreed})"


@voice_app.command()
def reset(profile: str | None = typer.Option(None, "--profile", "-p", help=PROFILE_HELP)) -> None:
    """Forget a voice profile and its enrolment clips."""
    from moodplayer.ui.console import out
    from moodplayer.voice import profiles

    name = profiles.active_name(profile)
    existed = profiles.reset_profile(name)
    out.print(f"voice profile '{name}' {'deleted' if existed else 'did not exist'}")


@voice_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List the voice profiles on this machine."""
    from moodplayer.ui.console import out
    from moodplayer.voice import profiles

    names = profiles.list_profiles()
    if as_json:
        print(json.dumps(names), flush=True)
    else:
        out.print("\n".join(names) if names else "no voice profiles yet: moodplayer voice enroll")


def model_metadata() -> dict:
    """The metadata of the model in force (profiles are kept per feature set)."""
    from moodplayer.voice.model import read_metadata
    from moodplayer.voice.model_versions import active_model_path

    return read_metadata(active_model_path())


def draw_spectrum(found, target: Path, n_mels: int, voices: dict) -> None:
    """The voice's mean log-mel spectrum (±1 standard deviation per band), over the band
    where the training speakers' average spectra lie (their mean ± 1 std over speakers)."""
    import numpy as np

    from moodplayer.ui.views import new_figure, save_figure

    bands = np.arange(n_mels)
    mean, std = found.stats.mean[:n_mels], np.sqrt(found.stats.var[:n_mels])
    fig, ax = new_figure(7.0)
    if voices.get("spectrum_mean"):
        centre, spread = np.array(voices["spectrum_mean"]), np.array(voices["spectrum_std"])
        ax.fill_between(bands, centre - spread, centre + spread, color="0.8", label="training speakers")
    ax.plot(bands, mean, label=f"{found.name} ({found.seconds:.0f} s)")
    ax.fill_between(bands, mean - std, mean + std, alpha=0.25)
    ax.set_xlabel("mel band (low → high pitch)")
    ax.set_ylabel("log energy")
    ax.legend()
    save_figure(fig, target)

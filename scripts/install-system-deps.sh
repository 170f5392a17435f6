#!/usr/bin/env bash
# Install the Debian/Ubuntu packages moodplayer needs, once.
#   runtime: PortAudio (sounddevice), libvlc + its base plugins (python-vlc),
#            ffmpeg (decoding m4a/wma/ape and other formats libsndfile lacks)
#   --test:  PulseAudio (the virtual microphone), tmux (driving the live view),
#            espeak-ng (speech to play into the virtual microphone)
set -euo pipefail

packages=(libportaudio2 libvlc5 vlc-plugin-base ffmpeg)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(pulseaudio pulseaudio-utils libasound2-plugins tmux espeak-ng)
fi

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null; then
    echo "moodplayer needs these system packages (names from Debian): ${missing[*]}; install them with your package manager." >&2
    exit 1
fi
if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "moodplayer needs system packages; run: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "Installing system packages: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

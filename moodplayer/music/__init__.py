"""The music half of the chain: the user's library, its moods and playback.

Tracks (:mod:`.track`), the SQLite library (:mod:`.library`), scanning folders
for tags and each track's mood (:mod:`.scan`), M3U playlists in and out
(:mod:`.m3u`) and VLC playback (:mod:`.player`). Nothing here imports torch.
"""

from moodplayer.cli import main

main()

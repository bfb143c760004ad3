from tailscope.cli import main

main()

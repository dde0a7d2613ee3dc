from fabric.daemon.main import main

main()

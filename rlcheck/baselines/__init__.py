"""What RL must beat: black-box policy search, MPC, MCTS and LQR with the simulator."""

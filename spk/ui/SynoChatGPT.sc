[SynoChatGPT]
title="SynoChatGPT"
desc="SynoChatGPT settings page and Synology Chat webhook"
port_forward="no"
dst.ports="8008/tcp"

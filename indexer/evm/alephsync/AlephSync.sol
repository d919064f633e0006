// SPDX-License-Identifier: MIT
// AlephSync: the Aleph.im sync contract's interface, written for alephql's
// tests and tools. Same events and functions as the protocol's contract;
// no parameter is indexed, so every log has topic0 only.
pragma solidity ^0.8.0;

contract AlephSync {
    event SyncEvent(uint256 timestamp, address addr, string message);
    event MessageEvent(uint256 timestamp, address addr, string msgtype, string msgcontent);

    // doEmit publishes a sync payload ({"protocol","version","content"}).
    function doEmit(string calldata message) external {
        emit SyncEvent(block.timestamp, msg.sender, message);
    }

    // doMessage publishes one smart-contract message.
    function doMessage(string calldata msgtype, string calldata msgcontent) external {
        emit MessageEvent(block.timestamp, msg.sender, msgtype, msgcontent);
    }
}

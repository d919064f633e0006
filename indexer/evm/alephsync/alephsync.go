// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package alephsync

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = bytes.Equal
	_ = errors.New
	_ = big.NewInt
	_ = common.Big1
	_ = types.BloomLookup
	_ = abi.ConvertType
)

// AlephSyncMetaData contains all meta data concerning the AlephSync contract.
var AlephSyncMetaData = bind.MetaData{
	ABI: "[{\"anonymous\":false,\"inputs\":[{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"timestamp\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"addr\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"string\",\"name\":\"msgtype\",\"type\":\"string\"},{\"indexed\":false,\"internalType\":\"string\",\"name\":\"msgcontent\",\"type\":\"string\"}],\"name\":\"MessageEvent\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"timestamp\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"addr\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"string\",\"name\":\"message\",\"type\":\"string\"}],\"name\":\"SyncEvent\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"string\",\"name\":\"message\",\"type\":\"string\"}],\"name\":\"doEmit\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"string\",\"name\":\"msgtype\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"msgcontent\",\"type\":\"string\"}],\"name\":\"doMessage\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "AlephSync",
	Bin: "0x6080604052348015600f57600080fd5b5061029d8061001f6000396000f3fe608060405234801561001057600080fd5b50600436106100365760003560e01c8063128f72c51461003b57806358666c0414610050575b600080fd5b61004e610049366004610134565b610063565b005b61004e61005e3660046101a5565b6100aa565b7f548eda6c65f4bd05085e450712b22cfb19c58816b453f69294a94e78db9ab32b42338686868660405161009c96959493929190610210565b60405180910390a150505050565b7f2cc768a3de0c950ea2a38e55a9b143cc6fd5a8eec27e36993b542fb16ab591e1423384846040516100df949392919061025b565b60405180910390a15050565b60008083601f8401126100fd57600080fd5b50813567ffffffffffffffff81111561011557600080fd5b60208301915083602082850101111561012d57600080fd5b9250929050565b6000806000806040858703121561014a57600080fd5b843567ffffffffffffffff81111561016157600080fd5b61016d878288016100eb565b909550935050602085013567ffffffffffffffff81111561018d57600080fd5b610199878288016100eb565b95989497509550505050565b600080602083850312156101b857600080fd5b823567ffffffffffffffff8111156101cf57600080fd5b6101db858286016100eb565b90969095509350505050565b81835281816020850137506000828201602090810191909152601f909101601f19169091010190565b8681526001600160a01b038616602082015260806040820181905260009061023b90830186886101e7565b828103606084015261024e8185876101e7565b9998505050505050505050565b8481526001600160a01b038416602082015260606040820181905260009061028690830184866101e7565b969550505050505056fea164736f6c6343000825000a",
}

// AlephSync is an auto generated Go binding around an Ethereum contract.
type AlephSync struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *AlephSync) GetABI() abi.ABI {
	return c.abi
}

// NewAlephSync creates a new instance of AlephSync.
func NewAlephSync() *AlephSync {
	parsed, err := AlephSyncMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &AlephSync{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *AlephSync) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackDoEmit is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x58666c04.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function doEmit(string message) returns()
func (alephSync *AlephSync) PackDoEmit(message string) []byte {
	enc, err := alephSync.abi.Pack("doEmit", message)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDoEmit is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x58666c04.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function doEmit(string message) returns()
func (alephSync *AlephSync) TryPackDoEmit(message string) ([]byte, error) {
	return alephSync.abi.Pack("doEmit", message)
}

// PackDoMessage is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x128f72c5.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function doMessage(string msgtype, string msgcontent) returns()
func (alephSync *AlephSync) PackDoMessage(msgtype string, msgcontent string) []byte {
	enc, err := alephSync.abi.Pack("doMessage", msgtype, msgcontent)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDoMessage is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x128f72c5.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function doMessage(string msgtype, string msgcontent) returns()
func (alephSync *AlephSync) TryPackDoMessage(msgtype string, msgcontent string) ([]byte, error) {
	return alephSync.abi.Pack("doMessage", msgtype, msgcontent)
}

// AlephSyncMessageEvent represents a MessageEvent event raised by the AlephSync contract.
type AlephSyncMessageEvent struct {
	Timestamp  *big.Int
	Addr       common.Address
	Msgtype    string
	Msgcontent string
	Raw        *types.Log // Blockchain specific contextual infos
}

const AlephSyncMessageEventEventName = "MessageEvent"

// ContractEventName returns the user-defined event name.
func (AlephSyncMessageEvent) ContractEventName() string {
	return AlephSyncMessageEventEventName
}

// UnpackMessageEventEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event MessageEvent(uint256 timestamp, address addr, string msgtype, string msgcontent)
func (alephSync *AlephSync) UnpackMessageEventEvent(log *types.Log) (*AlephSyncMessageEvent, error) {
	event := "MessageEvent"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != alephSync.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(AlephSyncMessageEvent)
	if len(log.Data) > 0 {
		if err := alephSync.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range alephSync.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// AlephSyncSyncEvent represents a SyncEvent event raised by the AlephSync contract.
type AlephSyncSyncEvent struct {
	Timestamp *big.Int
	Addr      common.Address
	Message   string
	Raw       *types.Log // Blockchain specific contextual infos
}

const AlephSyncSyncEventEventName = "SyncEvent"

// ContractEventName returns the user-defined event name.
func (AlephSyncSyncEvent) ContractEventName() string {
	return AlephSyncSyncEventEventName
}

// UnpackSyncEventEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event SyncEvent(uint256 timestamp, address addr, string message)
func (alephSync *AlephSync) UnpackSyncEventEvent(log *types.Log) (*AlephSyncSyncEvent, error) {
	event := "SyncEvent"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != alephSync.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(AlephSyncSyncEvent)
	if len(log.Data) > 0 {
		if err := alephSync.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range alephSync.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

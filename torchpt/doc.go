// Package torchpt reads PyTorch state dicts saved by torch.save (pytorch_model.bin, model.pth): the
// zip format of torch ≥ 1.6 and the legacy format before it. The pickle is read by a restricted
// unpickler that builds only dicts, lists, tuples, strings, numbers and tensors and refuses every other
// Python global, so a file cannot run code (unlike torch.load). A top-level dict's tensors are kept;
// their data is read from the storages, strided views gathered into row-major order.
package torchpt

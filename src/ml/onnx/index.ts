// ONNX model files: read one's signature and check the runtime can serve it (describeOnnxModel), and
// write Fogline's tfjs models as ONNX (layersModelToOnnx). No protobuf library: protobuf-wire.ts.

export {
  describeOnnxModel,
  type OnnxModelDescription,
  type OnnxTensorInfo,
  SUPPORTED_ONNX_IR_VERSIONS,
  SUPPORTED_ONNX_OPSETS,
} from './describe-onnx-model.js';
export { EXPORT_IR_VERSION, EXPORT_OPSET, layersModelToOnnx, type OnnxExportOptions } from './export-layers-model.js';
export { datatypeToOnnxElementType, onnxElementTypeToDatatype, type OipDatatype } from './onnx-schema.js';

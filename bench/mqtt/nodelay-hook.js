// Preloaded into the agent by `bench/mqtt/run.js --tcp-nodelay all` (NODE_OPTIONS=--import): every
// TCP socket the agent opens gets TCP_NODELAY, as a `client.stream.setNoDelay(true)` in the agent's
// MQTT client would (mqtt.js leaves Nagle's algorithm on). A diagnosis, not the agent's behaviour.
import net from 'node:net';

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  this.setNoDelay(true);
  return connect.apply(this, args);
};

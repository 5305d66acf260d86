import Basics
import Foundation
import Gossip
import GossipNIO
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Ring
import S3
import ServiceLifecycle
import Synchronization
import _NIOFileSystem

/// One running agent: opens its shard and blob store, joins gossip, serves the HTTP API and runs
/// its background loops, until SIGTERM/SIGINT (graceful: in-flight requests finish, the node
/// announces it is leaving) or cancellation.
public enum AgentNode {
    /// Starts everything and runs until shutdown. `onReady` gets the bound HTTP port.
    public static func run(_ options: AgentOptions, logger baseLogger: Logger, onReady: (@Sendable (Int) -> Void)? = nil) async throws {
        var nodeLogger = baseLogger
        nodeLogger[metadataKey: "node"] = "\(options.node.id)"
        let logger = nodeLogger
        let selfID = options.node.id
        try FileManager.default.createDirectory(atPath: options.dataDirectory, withIntermediateDirectories: true)
        let metadata = try MetadataStore(path: options.dataDirectory + "/meta.sqlite")
        if let problem = WallClock.testOffset.error { throw ClusterConfiguration.Error(field: "FILESTORE_TEST_CLOCK_OFFSET", problem: problem) }
        if let offset = WallClock.testOffset.milliseconds {
            logger.warning("TEST CLOCK OFFSET: every wall-clock reading of this agent is shifted by \(offset) ms (FILESTORE_TEST_CLOCK_OFFSET=\(WallClock.testOffset.text ?? "")); for fault tests only")
        }
        let clock = HybridClock(node: selfID, maxDrift: UInt64(options.cluster.maxClockSkew.inMilliseconds))
        // Never below a version issued or held before a restart, whatever the clock says now.
        for stored in [try await metadata.newestVersion(), try await metadata.nodeState(HybridClock.highWaterKey).flatMap { HybridTimestamp($0) }] {
            if let stored { clock.resume(after: stored) }
        }

        var s3Client: S3.Client?
        let blobs: any BlobStore
        switch options.node.storage {
        case .directory(let path, let directIO):
            blobs = try await DirectoryBlobStore(root: FilePath(path), directIO: directIO)
        case .s3(let endpoint, let bucket, let accessKey, let secretKey, let region):
            let client = try S3.Client(configuration: .init(endpoint: endpoint, region: region, credentials: .init(accessKeyID: accessKey, secretAccessKey: secretKey)))
            s3Client = client
            let store = try S3BlobStore(client: client, bucket: bucket)
            try await store.prepare()
            blobs = store
        }

        let incarnation = UInt64(try await metadata.nodeState("incarnation") ?? "0") ?? 0
        guard let gossipBind = AgentOptions.bindAddress(for: options.gossipBind ?? options.node.gossip.description) else {
            throw ClusterConfiguration.Error(field: "gossip", problem: "\(options.gossipBind ?? "") is not host:port")
        }
        var shellConfiguration = Gossip.ShellConfiguration(
            id: selfID, bind: gossipBind, http: options.node.http, clusterName: options.cluster.name, secret: options.cluster.secret
        )
        shellConfiguration.previousSecret = options.cluster.previousSecret
        shellConfiguration.advertise = options.node.gossip
        shellConfiguration.zone = options.node.zone
        shellConfiguration.weight = options.node.weight
        shellConfiguration.incarnation = incarnation
        shellConfiguration.settings = options.gossipSettings
        shellConfiguration.peer = options.node.peer ?? ""
        shellConfiguration.s3 = options.s3URL ?? ""
        shellConfiguration.seeds = options.cluster.nodes.filter { $0.id != selfID }.map(\.gossip) + options.join
        let gossip = GossipShell(configuration: shellConfiguration, logger: logger)

        let selfInfo = NodeInfo(
            id: selfID, http: options.node.http, peer: options.node.peer ?? "", s3: options.s3URL ?? "", gossip: options.node.gossip.description, zone: options.node.zone,
            weight: options.node.weight, status: .alive, incarnation: incarnation + 1, ringState: .member, load: .init()
        )
        let view = try ClusterView(selfID: selfID, configuration: options.cluster, selfInfo: selfInfo)
        let metrics = AgentMetrics.bootstrap()
        let local = LocalStore(blobs: blobs, metadata: metadata, clock: clock, metrics: metrics)
        let internalAuth = InternalAuth(clusterName: options.cluster.name, secret: options.cluster.secret, previousSecret: options.cluster.previousSecret)
        let tls = try options.cluster.tls.map { tls throws(ClusterConfiguration.Error) in try TLSFiles.load(tls, node: selfID.rawValue) }
        if options.cluster.tls?.mutual == true, options.node.peer == nil {
            throw ClusterConfiguration.Error(field: "tls.mutual", problem: "needs an internal listener of its own (nodes[].internal or --internal): browsers cannot present cluster certificates")
        }
        let peers = PeerClient(selfID: selfID, auth: internalAuth, tls: tls?.client(), idleTimeout: min(.seconds(30), options.cluster.limits.idleTimeout / 2))
        let calls = NodeCalls(local: local, transport: HTTPTransport(peers: peers), selfID: selfID)
        var agent = AgentContext(
            selfID: selfID, cluster: options.cluster, view: view, local: local, calls: calls,
            writer: WriteCoordinator(
                calls: calls, view: view, chunkSize: Int(options.cluster.chunkSize.bytes), inlineLimit: Int(options.cluster.inlineMax.bytes), logger: logger
            ),
            reader: ReadCoordinator(
                calls: calls, view: view, logger: logger,
                budget: DownloadBudget(
                    maxDownloads: options.cluster.limits.maxDownloadsInFlight, maxPerClient: options.cluster.limits.maxDownloadsPerClient,
                    readAheadChunks: options.cluster.limits.readAheadChunks
                )
            ),
            accounts: Accounts(metadata: metadata, clock: clock, passwordLimits: .init(failuresPerMinute: options.cluster.limits.signInFailuresPerMinute)),
            accessKeys: AccessKeys(
                metadata: metadata, clock: clock,
                sealer: AccessKeySealer(clusterName: options.cluster.name, secret: options.cluster.secret, previousSecret: options.cluster.previousSecret)
            ),
            internalAuth: internalAuth, logger: logger, metrics: metrics
        )
        agent.maxUploadBytes = options.maxUploadBytes
        agent.servesTLS = tls != nil

        guard let httpBind = AgentOptions.bindAddress(for: options.httpBind ?? options.node.http) else {
            throw ClusterConfiguration.Error(field: "http", problem: "\(options.httpBind ?? options.node.http) is not host:port")
        }
        let traffic = TrafficCounters()
        // One replay guard for every listener that serves the internal API.
        let replays = ReplayGuard()
        let ownInternalListener = options.node.peer != nil
        let inFlight = InFlightCounts()
        let router = AgentRouter.build(agent, traffic: traffic, inFlight: inFlight, assets: try await WebAssets.load(), internalCalls: ownInternalListener ? nil : replays)
        var app = try server(router, bind: httpBind, tls: tls?.server(requireClientCertificate: false), options: options, logger: logger) { port in
            logger.info("HTTP listening", metadata: ["port": "\(port)"])
            onReady?(port)
        }
        if let peer = options.node.peer {
            guard let internalBind = AgentOptions.bindAddress(for: options.internalBind ?? peer) else {
                throw ClusterConfiguration.Error(field: "internal", problem: "\(options.internalBind ?? peer) is not host:port")
            }
            let internalTLS = tls?.server(requireClientCertificate: options.cluster.tls?.mutual == true)
            let internalApp = try server(AgentRouter.buildInternal(agent, traffic: traffic, replays: replays), bind: internalBind, tls: internalTLS, options: options, logger: logger) { port in
                logger.info("internal API listening", metadata: ["port": "\(port)"])
            }
            app.addServices(internalApp)
        }
        if let s3 = options.node.s3 {
            guard let s3Bind = AgentOptions.bindAddress(for: options.s3Bind ?? s3) else {
                throw ClusterConfiguration.Error(field: "s3", problem: "\(options.s3Bind ?? s3) is not host:port")
            }
            // 100 Continue only once the signature holds: no unauthenticated body is ever invited.
            let s3App = try server(
                responder: S3Listener(agent: agent, traffic: traffic, inFlight: inFlight), bind: s3Bind, tls: tls?.server(requireClientCertificate: false),
                options: options, logger: logger, continueMode: .whenAsked
            ) { port in
                logger.info("S3 listening", metadata: ["port": "\(port)"])
            }
            app.addServices(s3App)
        }
        app.addServices(gossip)
        let background = BackgroundLoops(agent: agent, gossip: gossip, traffic: traffic, adminPassword: options.adminPassword, storage: options.node.storage)
        app.addServices(background)

        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        do {
            try await group.run()
        } catch {
            logger.error("agent stopped with an error", metadata: ["error": "\(error)"])
            try? await peers.shutdown()
            try? await s3Client?.shutdown()
            throw error
        }
        try? await peers.shutdown()
        try? await s3Client?.shutdown()
        logger.info("agent stopped")
    }
}

extension AgentNode {
    /// One HTTP listener (over TLS when `tls` is given) with the connection caps and idle timeout of `limits`.
    static func server(
        _ router: Router<AgentRequestContext>, bind: Gossip.Address, tls: TLSConfiguration?, options: AgentOptions, logger: Logger,
        onRunning: @escaping @Sendable (Int) -> Void
    ) throws -> Application<RouterResponder<AgentRequestContext>> {
        try server(responder: router.buildResponder(), bind: bind, tls: tls, options: options, logger: logger, onRunning: onRunning)
    }

    /// `continueMode` is when an `Expect: 100-continue` is answered (`ExpectContinueHandler`).
    static func server<Responder: HTTPResponder>(
        responder: Responder, bind: Gossip.Address, tls: TLSConfiguration?, options: AgentOptions, logger: Logger,
        continueMode: ExpectContinueHandler.Mode = .atOnce, onRunning: @escaping @Sendable (Int) -> Void
    ) throws -> Application<Responder> where Responder.Context == AgentRequestContext {
        let limits = options.cluster.limits
        let connections = ConnectionGate(maxConnections: limits.maxConnections, maxPerClient: limits.maxConnectionsPerClient)
        let http1 = HTTPServerBuilder.http1(configuration: .init(
            additionalChannelHandlers: [connections.handler(), ExpectContinueHandler(mode: continueMode), UnreadBodyGuard(), StalledReaderGuard(timeout: TimeAmount(limits.idleTimeout))], idleTimeout: TimeAmount(limits.idleTimeout)
        ))
        return Application(
            responder: responder,
            server: try tls.map { try .tls(http1, tlsConfiguration: $0) } ?? http1,
            configuration: .init(address: .hostname(bind.host, port: bind.port), serverName: "filestore/\(options.node.id)"),
            onServerRunning: { channel in onRunning(channel.localAddress?.port ?? bind.port) },
            logger: logger
        )
    }
}
